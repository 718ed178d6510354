try:  # Ctrl-C while the first modules load: an exit code, not a traceback
    from rtfer.cli import main
except KeyboardInterrupt:
    raise SystemExit(130) from None

raise SystemExit(main())
