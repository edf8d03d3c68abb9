"""The packer stopped or starved, bundles cut short, split parts run alone: one clear line each, nothing left over."""
import os
import signal
import subprocess
import time

import pytest

from conftest import BIN, PACK, TINY


def run(*args, cwd=None, timeout=60):
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, cwd=cwd, timeout=timeout)


def one_line(stderr):
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    return lines[0]


def leftovers(folder, keep=()):
    return sorted(name for name in os.listdir(folder) if name not in keep)


@pytest.fixture
def folder(tmp_path):
    for needed in (BIN, PACK, TINY):
        if not needed.exists():
            pytest.fail(f"{needed} missing: run make build and make models (make test does)")
    return tmp_path


def big_weights(folder, size=3 << 30):
    """A sparse 3 GiB 'GGUF' (the magic, then a hole): packing it takes long enough to be interrupted."""
    path = folder / "big.gguf"
    with open(path, "wb") as out:
        out.write(b"GGUF")
        out.truncate(size)
    return path


@pytest.mark.parametrize("which", [signal.SIGINT, signal.SIGTERM])
def test_signal_while_packing_leaves_nothing(folder, which):
    weights = big_weights(folder)
    process = subprocess.Popen([str(PACK), "--runner", str(BIN), "-o", str(folder / "B.llamafile"), str(weights)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Wait until the temporary file exists and grows, then interrupt.
    deadline = time.time() + 20
    while time.time() < deadline and not any(n.startswith(".B.llamafile.tmp-") for n in os.listdir(folder)):
        time.sleep(0.02)
    time.sleep(0.3)
    assert process.poll() is None, "packing finished before the signal: make the input bigger"
    process.send_signal(which)
    _, stderr = process.communicate(timeout=20)
    assert process.returncode == 128 + which
    line = one_line(stderr)
    assert "stopped by" in line and "nothing was written" in line, line
    assert leftovers(folder, keep=("big.gguf",)) == []


def in_tmpfs(folder, megabytes, *command):
    """`command` run with a tmpfs of `megabytes` mounted at `folder`, in a private mount namespace of a user
    namespace (`unshare -r -m`: no root needed, nothing visible outside)."""
    return ["unshare", "-r", "-m", "sh", "-c", f'mount -t tmpfs -o size={megabytes}m tmpfs "{folder}" && exec "$0" "$@"',
            *command]


def test_full_disk_gives_one_line_and_leaves_nothing(folder):
    small = folder / "small"
    small.mkdir()
    probe = run(*in_tmpfs(small, 1, "true"))
    if probe.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs here (needed to fill a disk): {probe.stderr.strip()}")
    # The runner alone is ~22 MB: a 16 MiB disk fills up while it is copied.
    script = f'"{PACK}" --runner "{BIN}" -o "{small}/X.llamafile" "{TINY}"; status=$?; ls -A "{small}"; exit $status'
    result = run(*in_tmpfs(small, 16, "sh", "-c", script))
    assert result.returncode == 1, result
    line = one_line(result.stderr)
    assert line.startswith("swiftfile-pack: error: ") and "No space left on device" in line, line
    assert f"{small}/X.llamafile" in line and "nothing was written" in line, line
    assert result.stdout.strip() == "", f"left behind: {result.stdout}"


def test_split_smaller_than_the_runner_is_refused(folder):
    result = run(PACK, "--runner", BIN, "-o", folder / "S.llamafile", "--split", "10M", TINY)
    assert result.returncode == 1
    line = one_line(result.stderr)
    assert "is smaller than the runner" in line and "--split" in line, line
    assert leftovers(folder) == []


def test_each_split_part_run_alone_says_how_to_join(folder):
    runner_size = os.path.getsize(BIN)
    part = runner_size + (4 << 20)
    result = run(PACK, "--runner", BIN, "-o", folder / "S.llamafile", "--split", str(part), TINY, cwd=folder)
    assert result.returncode == 0, result.stderr
    parts = sorted(folder.glob("S.cat*.llamafile"))
    assert len(parts) >= 2
    count = len(parts)
    # The first part holds the whole runner: run alone it names itself and the command that joins the parts.
    alone = run(parts[0], "-p", "hi", "-n", "1")
    assert alone.returncode == 1
    line = one_line(alone.stderr)
    assert f"part 1 of {count}" in line and "cat " in line and "> " in line, line
    assert not alone.stdout
    # Later parts are not executables (mode 0644: the shell refuses them); given to -m they say which part they are.
    for index, path in enumerate(parts[1:], start=2):
        assert not os.access(path, os.X_OK), f"{path.name} is executable"
        as_model = run(BIN, "-m", path, "-p", "hi", "-n", "1")
        assert as_model.returncode == 1
        assert f"part {index} of {count}" in one_line(as_model.stderr)
    # Joined with cat (and made executable), the bundle runs.
    joined = folder / "S.llamafile"
    with open(joined, "wb") as out:
        for path in parts:
            out.write(path.read_bytes())
    os.chmod(joined, 0o755)
    ok = run(joined, "-p", "The capital", "-n", "2", "--temp", "0", "--log-disable")
    assert ok.returncode == 0, ok.stderr


def test_bundle_cut_at_every_sixteenth_gives_one_line_each(folder):
    """A download cut short: given to a runner with -m, every cut is refused with one line; run itself, a cut
    past the end of the embedded runner says so too (a cut inside the runner's own code cannot run at all)."""
    bundle = folder / "T.llamafile"
    result = run(PACK, "--runner", BIN, "-o", bundle, TINY)
    assert result.returncode == 0, result.stderr
    data = bundle.read_bytes()
    size, runner_size = len(data), os.path.getsize(BIN)
    lines, ran_itself = [], 0
    for sixteenth in range(1, 16):
        cut = folder / f"cut{sixteenth:02}.llamafile"
        cut.write_bytes(data[: size * sixteenth // 16])
        os.chmod(cut, 0o755)
        started = time.time()
        as_model = run(BIN, "-m", cut, "-p", "hi", "-n", "1", timeout=30)
        assert as_model.returncode == 1, (sixteenth, as_model.returncode, as_model.stderr[-400:])
        lines.append(one_line(as_model.stderr))
        assert time.time() - started < 10, sixteenth
        if size * sixteenth // 16 > runner_size:
            itself = run(cut, "-p", "hi", "-n", "1", timeout=30)
            assert itself.returncode == 1, (sixteenth, itself.returncode, itself.stderr[-400:])
            one_line(itself.stderr)
            ran_itself += 1
        cut.unlink()
    assert ran_itself >= 4, "the model part of the bundle should span several sixteenths"
    print("\n".join(f"cut at {i}/16: {line}" for i, line in enumerate(lines, start=1)))
