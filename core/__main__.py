from __future__ import annotations

from core.cli import main

if __name__ == "__main__":
    main()
