from archc.cli.main import main

main()
