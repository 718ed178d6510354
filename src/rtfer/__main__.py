try:  # Ctrl-C while the first modules load, or as main returns: an exit code, not a traceback
    from rtfer.cli import main

    code = main()
except KeyboardInterrupt:
    code = 130
raise SystemExit(code)
