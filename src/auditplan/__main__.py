from auditplan.cli import main

main()
