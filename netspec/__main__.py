from netspec.cli.app import main

main()
