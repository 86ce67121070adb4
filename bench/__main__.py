"""``python -m bench``: run the benchmarks and print the table."""

from bench.run import main

raise SystemExit(main())
