"""The `relevance` command (the top floor of the house): its parser, flags and checks,
the input pre-check and staging, the run console and log routing, `presets`.

Modules:
    main                the `relevance` entry point and parser (run, demo, compile, ...)
    reference           README's CLI reference, written from the parser
    flag_checks         argparse types that check a flag as it is parsed
    caption_flags, embedding_flags, embed_items_flags, evaluate_flags, score_flags,
    serve_flags, serve_config_flags,
    presets_cli         each command's flags (no TensorFlow: `--help` stays fast)
    embed_items         `relevance embed-items`: catalog items into an embedding space
    staging             the pre-check of the input files and their staging for ExampleGen
    workdir_lock        one run per workdir
    console, progress_display, run_console, run_log
                        what the terminal shows during a run; framework logs to a file
"""
