from fluvius_cli.app import main

main()
