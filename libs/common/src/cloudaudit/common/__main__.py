from cloudaudit.common.cli import main

main()
