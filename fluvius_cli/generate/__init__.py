"""Turning a spec into a service project: views of the spec, templates, and safe writes."""
