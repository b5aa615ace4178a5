"""Set this clone's default DVC remote: a folder beside the repository, another folder, or a URL.

It is set for both DVC projects, the notebooks' (the root) and the seeds study's (study/), which
share it: DVC stores files by their hash, so the two never overwrite each other's. It goes to each
.dvc/config.local (not committed), as an absolute path for a folder: DVC resolves a relative remote
path against the repository only in some commands (`dvc exp push` reads the committed config from
git, where a relative path points at the filesystem's root).
"""

import argparse
from pathlib import Path

from journey.dvc import dvc, repo_root
from stages.lib.cli import UserError

NAME = "storage"
PROJECTS = (".", "study")  # the notebooks' DVC project and the study's
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


def default_remote(project: Path = Path()) -> str:
    """The name of the default DVC remote of the DVC project in `project`, or "" when none is set."""
    return dvc("remote", "default", cwd=project).strip()


def require_remote(project: Path = Path()) -> None:
    """A UserError unless the DVC project in `project` has a default remote."""
    if not default_remote(project):
        where = "this clone" if project == Path() else f"{project}/ (a DVC project of its own)"
        raise UserError(f"no default DVC remote in {where}; run `journey remote` (a folder beside the "
                        "repository) or `journey remote URL` first")  # fmt: skip


def command(args: argparse.Namespace) -> None:
    """`dvc remote add --local --default --force storage URL` in both projects; say where data goes."""
    root = repo_root()
    url = resolve(args.url, root)
    for project in PROJECTS:
        dvc("remote", "add", "--local", "--default", "--force", NAME, url, cwd=root / project)
    print(f"default DVC remote '{NAME}': {url} (in .dvc/config.local and study/.dvc/config.local, "
          "not committed)")  # fmt: skip
