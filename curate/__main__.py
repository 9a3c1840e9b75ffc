from curate.cli import main

if __name__ == "__main__":  # not when a spawned child process imports this module as __mp_main__
    main()
