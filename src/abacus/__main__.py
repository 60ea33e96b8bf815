from abacus.cli import main

main()
