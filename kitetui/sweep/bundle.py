"""The files a sweep's points read, packed once so a cluster's nodes need no shared disk.

A distributed sweep ships the config's data (its replay sources, instrument masters
and holiday override) as one value: the driver reads the files once and puts the
bundle in Ray's object store once; the first point to run on a node fetches it (the
object store moves it to that node once, whatever the number of points there) and
writes the files into a folder named by the bundle's hash, in a private folder of the
user's in the node's temp dir (``private_base``).
Every later point on the node finds that folder complete and reads the files from
it, as a local run reads the originals; another sweep of the same data reuses it.
Points get a config whose paths point into the folder (``localised``), so the
loaders, their checks and their error messages are the ones a local run has.

Each source keeps its file names in a folder of its own (``s0/``, ``s1/``…), so a
glob's files still name their symbols and two sources' files never collide.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

from kitetui.config import AppConfig
from kitetui.market.loaders import data_path
from kitetui.market.replay import expand_source

_COMPLETE = ".complete"  # written last: a folder without it is being written or was cut


@dataclass(frozen=True, slots=True)
class DataBundle:
    """The files (path in the bundle, bytes) and where each config path now points."""

    digest: str
    files: tuple[tuple[str, bytes], ...]
    sources: tuple[str, ...]  # each replay source's path, relative to the bundle
    instruments: tuple[str, ...]
    holidays: str | None

    @property
    def size(self) -> int:
        return sum(len(data) for _, data in self.files)

    def layout(self) -> DataBundle:
        """The bundle without its bytes: what every point carries, to find the files
        in the node's folder (the bytes travel once, through the object store)."""
        return DataBundle(self.digest, (), self.sources, self.instruments, self.holidays)


def make_bundle(config: AppConfig) -> DataBundle:
    """Read every data file the config names (a missing optional file stays missing:
    the point then says so as a local run would)."""
    assert config.replay is not None, "a sweep replays data"
    files: dict[str, bytes] = {}
    sources = []
    for i, source in enumerate(config.replay.sources):
        for path, _symbol in expand_source(source.path, source.symbol):
            if path.is_file():
                files[f"s{i}/{path.name}"] = path.read_bytes()
        if "*" in source.path:  # the glob itself, over the source's own folder
            name = source.path.rpartition("/")[2].removeprefix("pkg:")
        else:
            name = data_path(source.path).name
        sources.append(f"s{i}/{name}")
    instruments = []
    for j, spec in enumerate(config.instruments):
        path = data_path(spec)
        files[f"m{j}/{path.name}"] = path.read_bytes()
        instruments.append(f"m{j}/{path.name}")
    holidays = None
    if config.calendar.holidays_override:
        path = data_path(config.calendar.holidays_override)
        holidays = f"h/{path.name}"
        files[holidays] = path.read_bytes()
    digest = hashlib.sha256()
    for name in sorted(files):
        digest.update(name.encode() + b"\0" + hashlib.sha256(files[name]).digest())
    return DataBundle(
        digest.hexdigest(),
        tuple(sorted(files.items())),
        tuple(sources),
        tuple(instruments),
        holidays,
    )


def private_base() -> Path:
    """This user's folder for bundles in the node's temp dir (``kitetui-sweep-<uid>``,
    0700). One that is a link, another user's, or open to others is refused: in a
    shared /tmp, another user could otherwise plant a complete-looking bundle (the
    digest of public data is easy to compute) whose files the points would read as the
    sweep's data, or squat the name so no point could run."""
    base = Path(tempfile.gettempdir()) / f"kitetui-sweep-{os.getuid()}"
    with contextlib.suppress(FileExistsError):
        base.mkdir(mode=0o700)
    info = base.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise OSError(
            f"{base}: not a private folder of this user (a link, another owner's, or open "
            "to others): the sweep's data cannot go there; remove it"
        )
    return base


def bundle_folder(digest: str, root: Path | None = None) -> Path:
    base = Path(root) if root is not None else private_base()
    return base / f"kitetui-sweep-{digest[:24]}"


def is_materialised(digest: str, root: Path | None = None) -> bool:
    return (bundle_folder(digest, root) / _COMPLETE).is_file()


def materialise(bundle: DataBundle, root: Path | None = None) -> Path:
    """The bundle's folder on this node, written once: points racing to write it each
    write a private copy and rename it into place; the first rename wins."""
    folder = bundle_folder(bundle.digest, root)
    if (folder / _COMPLETE).is_file():
        return folder
    scratch = Path(tempfile.mkdtemp(prefix=f"{folder.name}.", dir=folder.parent))
    try:
        for name, data in bundle.files:
            target = scratch / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        (scratch / _COMPLETE).write_text(bundle.digest)
        with contextlib.suppress(OSError):  # another point got there first
            os.rename(scratch, folder)
    finally:
        if scratch.exists():
            shutil.rmtree(scratch, ignore_errors=True)
    if not (folder / _COMPLETE).is_file():
        raise OSError(f"{folder}: the sweep's data folder is incomplete (remove it)")
    return folder


def localised(config: AppConfig, bundle: DataBundle, folder: Path) -> AppConfig:
    """``config`` reading its data from ``folder`` (the materialised bundle)."""
    assert config.replay is not None
    sources = [
        source.model_copy(update={"path": str(folder / path)})
        for source, path in zip(config.replay.sources, bundle.sources, strict=True)
    ]
    update: dict[str, object] = {
        "replay": config.replay.model_copy(update={"sources": sources}),
        "instruments": [str(folder / path) for path in bundle.instruments],
    }
    if bundle.holidays is not None:
        update["calendar"] = config.calendar.model_copy(
            update={"holidays_override": str(folder / bundle.holidays)}
        )
    return config.model_copy(update=update)
