"""The regions fluvius keeps in user files: the README's event model, between its markers."""

from __future__ import annotations

from fluvius_cli.generate.regions import EVENT_MODEL
from fluvius_cli.generate.render import README_PATH, Owner, RenderedFile
from fluvius_cli.generate.sync import Action, region_change

README = f"# bank\n\nMine.\n\n{EVENT_MODEL.start}\nold drawing\n{EVENT_MODEL.end}\n\nAlso mine.\n"
DRAWING = RenderedFile(README_PATH, "new drawing\n", Owner.REGION, markers=EVENT_MODEL)


def test_filling_rewrites_the_region_and_nothing_else() -> None:
    filled = EVENT_MODEL.fill(README, "new drawing\n")
    assert filled == README.replace("old drawing", "new drawing")
    assert filled is not None
    assert EVENT_MODEL.body(filled) == "new drawing\n"
    assert EVENT_MODEL.fill(filled, "new drawing\n") == filled


def test_a_text_without_both_markers_has_no_region() -> None:
    without_end = README.replace(EVENT_MODEL.end, "")
    assert EVENT_MODEL.fill(without_end, "x\n") is None
    assert EVENT_MODEL.body("# bank\n") is None


def test_generation_updates_a_stale_region_and_keeps_a_file_without_markers() -> None:
    stale = region_change(DRAWING, README)
    assert (stale.action, stale.content) == (
        Action.UPDATE,
        EVENT_MODEL.fill(README, "new drawing\n"),
    )
    assert region_change(DRAWING, stale.content).action is Action.UNCHANGED
    for on_disk in ("# bank, without the drawing\n", None):
        kept = region_change(DRAWING, on_disk)
        assert (kept.action, kept.content) == (Action.KEPT, None)
        assert kept.note == "no event-model markers to fill"
