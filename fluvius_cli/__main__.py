from fluvius.cli import main

main()
