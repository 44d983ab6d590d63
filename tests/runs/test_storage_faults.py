"""Storage faults with real files and processes: a corrupt database, a folder or table removed while the server
runs, a full disk (RLIMIT_FSIZE) and no file descriptors left (RLIMIT_NOFILE). After each: nothing deleted, no
finished run lost, and a clear message where a person can act."""

import os
import sqlite3
import subprocess
import sys
import textwrap
import time

import pytest

from cnn_core.data import image_store
from cnn_core.runs.model_cache import ModelCache
from cnn_core.runs.registry import RunRegistry
from cnn_core.settings import ENV_VAR
from tests.conftest import ROOT
from tests.run_helpers import make_run, same_weights

resource = pytest.importorskip("resource")  # POSIX limits


def ids(cache) -> set[str]:
    return {e["run_id"] for e in cache.listing()}


def test_a_corrupt_database_is_moved_aside_kept_and_started_afresh_from_the_checkpoints(tmp_path):
    cache = ModelCache(tmp_path)  # the server's, already open when the file goes bad
    runs = [make_run(seed) for seed in range(3)]
    for run in runs:
        assert cache.put(run, who="Swift Otter 42") is None
    garbage = os.urandom(3000)
    (tmp_path / "runs.sqlite3").write_bytes(garbage)
    assert ids(cache) == {r.run_id for r in runs}  # re-registered from the files' own metadata
    [aside] = tmp_path.glob("runs.sqlite3.corrupt-*")
    assert aside.read_bytes() == garbage  # kept as it was, for whoever wants to look
    assert any("moved aside" in w for w in cache.warnings)
    assert cache.put(make_run(3)) is None and len(ids(cache)) == 4
    found = ModelCache(tmp_path).get(runs[1].key)  # another process, from disk
    assert found is not None and same_weights(found, runs[1])


def test_a_corrupt_database_found_at_start_is_mended_once_by_two_processes(tmp_path):
    RunRegistry(tmp_path).put(make_run(0))
    (tmp_path / "runs.sqlite3").write_bytes(b"not a database" * 300)
    code = f"from cnn_core.runs.registry import RunRegistry; print(len(RunRegistry({str(tmp_path)!r}).listing()))"
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
             for _ in range(2)]  # fmt: skip
    assert [p.communicate(timeout=120)[0].strip() for p in procs] == ["1", "1"]
    assert len(list(tmp_path.glob("runs.sqlite3.corrupt-*"))) == 1  # the second found it mended


def test_a_folder_or_table_removed_while_the_server_runs_is_made_again(tmp_path):
    folder = tmp_path / "cache"
    cache = ModelCache(folder)
    assert cache.put(make_run(0)) is None
    import shutil

    shutil.rmtree(folder)
    second = make_run(1)
    assert cache.put(second) is None and ids(cache) == {second.run_id}
    an_hour_ago = time.time() - 3600
    os.utime(folder / "checkpoints" / f"{second.run_id}.pt", (an_hour_ago, an_hour_ago))  # not being written
    with sqlite3.connect(folder / "runs.sqlite3") as db:
        db.execute("DROP TABLE runs")
    third = make_run(2)
    assert cache.put(third) is None
    assert ids(cache) == {second.run_id, third.run_id}  # the table made again, refilled from the files


FAULTS = {
    # a full disk: writes past 2 kB fail with EFBIG (SIGXFSZ ignored, as a server would see ENOSPC)
    "full disk": "signal.signal(signal.SIGXFSZ, signal.SIG_IGN); resource.setrlimit(resource.RLIMIT_FSIZE, (2048, 2048))",
    # every file descriptor in use
    "no file descriptors": """
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, hard))
        held = []
        try:
            while True:
                held.append(open(os.devnull))
        except OSError:
            pass""",
}


@pytest.mark.parametrize("fault", FAULTS)
def test_a_disk_or_process_out_of_room_gives_clear_messages_and_deletes_nothing(tmp_path, fault):
    from cnn_core.data.folders import from_files
    from tests.image_files import BLUE, RED, picture

    os.environ[ENV_VAR], before = str(tmp_path), os.environ.get(ENV_VAR)
    try:
        kept = from_files({c: [(str(i), picture(color, seed=i)) for i in range(6)] for c, color in (("a", RED), ("b", BLUE))})
        image_store.put(kept)
    finally:
        os.environ[ENV_VAR] = before
    old = make_run(0)
    ModelCache(tmp_path).put(old)
    script = textwrap.dedent("""
        import os, resource, signal, sys
        from cnn_core.data import image_store
        from cnn_core.runs import checkpoint
        from cnn_core.runs.model_cache import ModelCache
        from cnn_core.data.folders import from_files
        from tests.image_files import BLUE, RED, picture
        from tests.run_helpers import make_run
        cache, run = ModelCache(sys.argv[1]), make_run(1)
        big = from_files({c: [(str(i), picture(k, seed=i)) for i in range(30)] for c, k in (("a", RED), ("b", BLUE))})
        big.digest
    """) + textwrap.dedent(FAULTS[fault]) + textwrap.dedent(f"""
        print("RUN:", cache.put(run))
        for act in (lambda: image_store.get({kept.digest!r}), lambda: image_store.put(big)):
            try:
                act()
                print("IMAGES: fine")
            except image_store.StoreUnavailable as exc:
                print("IMAGES:", exc)
    """)  # fmt: skip
    env = {**os.environ, ENV_VAR: str(tmp_path)}
    done = subprocess.run([sys.executable, "-c", script, str(tmp_path)], cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    lines = dict(line.split(": ", 1) for line in done.stdout.splitlines() if ": " in line)
    assert "could not be saved" in lines["RUN"] and "kept in memory only" in lines["RUN"]
    assert "could not write to its store of your images" in done.stdout
    if fault == "no file descriptors":
        assert "could not read its store of your images (Too many open files)" in done.stdout
    os.environ[ENV_VAR] = str(tmp_path)
    try:
        assert image_store.get(kept.digest).digest == kept.digest  # never deleted after the machine's trouble
        assert not list(image_store.store_dir().glob("*.tmp"))
    finally:
        os.environ[ENV_VAR] = before
    assert ids(ModelCache(tmp_path)) == {old.run_id}


def test_store_warnings_are_logged_every_time_and_kept_within_a_bound(tmp_path, caplog):
    from cnn_core.runs.registry import MAX_WARNINGS

    (tmp_path / "cache").write_text("a file where the folder should be")
    cache, run = ModelCache(tmp_path / "cache"), make_run(0)
    with caplog.at_level("ERROR", logger="cnn_core.runs.model_cache"):
        for _ in range(MAX_WARNINGS + 10):
            assert "could not be saved" in cache.put(run)
    assert len(cache.warnings) == MAX_WARNINGS  # the newest only: a server that runs for weeks doesn't grow
    assert sum("could not be saved" in r.getMessage() for r in caplog.records) == MAX_WARNINGS + 10
