"""Set this clone's default DVC remote: a folder beside the repository, another folder, or a URL.

It goes to .dvc/config.local (not committed), as an absolute path for a folder: DVC resolves a
relative remote path against the repository only in some commands (`dvc exp push` reads the
committed config from git, where a relative path points at the filesystem's root).
"""

import argparse
from pathlib import Path

from journey.dvc import dvc, repo_root
from stages.cli import UserError

NAME = "storage"
DEFAULT_FOLDER = "journey-dvc-storage"  # beside the repository, so clones side by side share it


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The remote's folder or URL."""
    parser.add_argument("url", nargs="?", help=f"a folder or a URL such as s3://bucket/path (default: "
                        f"../{DEFAULT_FOLDER}, beside the repository)")  # fmt: skip


def resolve(url: str | None, root: Path) -> str:
    """A URL as it is; a folder as an absolute path (the default: DEFAULT_FOLDER beside `root`)."""
    if url is None:
        return str(root.parent / DEFAULT_FOLDER)
    return url if "://" in url else str(Path(url).expanduser().resolve())


def default_remote() -> str:
    """The name of the default DVC remote, or "" when none is set."""
    return dvc("remote", "default").strip()


def require_remote() -> None:
    """A UserError unless a default remote is set."""
    if not default_remote():
        raise UserError("no default DVC remote in this clone; run `journey remote` (a folder beside the "
                        "repository) or `journey remote URL` first")  # fmt: skip


def command(args: argparse.Namespace) -> None:
    """`dvc remote add --local --default --force storage URL`, then say where data will go."""
    url = resolve(args.url, repo_root())
    dvc("remote", "add", "--local", "--default", "--force", NAME, url)
    print(f"default DVC remote '{NAME}': {url} (in .dvc/config.local, not committed)")
