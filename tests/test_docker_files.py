"""The default `docker compose up` path, checked offline (CI reaches no image registry).

The instructor's path (python:3.11-slim-bookworm, packages from the index pinned by hash)
cannot be built here; what can be checked without a registry is: the compose files
resolve, the default base is the official image, the Dockerfile's stages are well formed,
every package of the lock carries a sha256, and those hashes are the wheelhouse's files
(which is what the air-gapped build, run by tests/test_compose.py, installs with
--require-hashes). Fast: no engine needed.
"""

import hashlib
import re
import shutil
import subprocess
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
LOCKS = [ROOT / "docker" / "requirements.lock", ROOT / "docker" / "requirements-cuda.lock"]
VARIANTS = [["docker-compose.yml"], ["docker-compose.yml", "docker-compose.scale.yml"],
            ["docker-compose.yml", "docker-compose.gpu.yml"]]
DEFAULT_BASE = "python:3.11-slim-bookworm"


def _pins(lock):
    """{canonical name: (version, [sha256, ...])} of a lock file."""
    pins = {}
    for line in lock.read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, version = line.split()[0].split("==")
            pins[_canonical(name)] = (version, re.findall(r"--hash=sha256:([0-9a-f]{64})", line))
    return pins


def _canonical(name):
    return re.sub(r"[-_.]+", "-", name).lower()


@pytest.mark.parametrize("files", VARIANTS, ids="+".join)
def test_compose_files_resolve(files, tmp_path):
    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    args = [a for f in files for a in ("-f", str(ROOT / f))]
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(tmp_path)}  # no CONVGRADE_* from the caller
    out = subprocess.run([compose, *args, "config"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert f"BASE_IMAGE: {DEFAULT_BASE}" in out.stdout


def test_dockerfile_defaults_to_the_official_base_and_checks_hashes():
    text = (ROOT / "Dockerfile").read_text()
    assert f"ARG BASE_IMAGE={DEFAULT_BASE}" in text
    assert "install $source --require-hashes --no-deps -r /build/requirements.lock" in text
    assert "'/build/src[server]'" in text and "CONVGRADE_SKIP_LABEXTENSION=1" in text
    _check_stages(text)
    _check_stages((ROOT / "docker" / "services.Dockerfile").read_text())


def _check_stages(text):
    """Every instruction is a Dockerfile keyword and every COPY --from names an earlier stage."""
    keywords = {"FROM", "ARG", "RUN", "COPY", "ENV", "LABEL", "WORKDIR", "VOLUME", "EXPOSE",
                "HEALTHCHECK", "ENTRYPOINT", "CMD", "USER", "SHELL", "ADD", "STOPSIGNAL"}
    stages, continued = [], False
    for line in text.splitlines():
        stripped = line.strip()
        if not continued and stripped and not stripped.startswith("#"):
            keyword = stripped.split()[0]
            assert keyword in keywords, f"not an instruction: {line}"
            if keyword == "FROM":
                match = re.match(r"FROM\s+\S+(?:\s+AS\s+(\S+))?$", stripped, re.IGNORECASE)
                assert match, line
                stages.append(match.group(1))
            source = re.search(r"--from=(\S+)", stripped)
            if keyword == "COPY" and source:
                assert source.group(1) in stages, f"COPY from an unknown stage: {line}"
        continued = stripped.endswith("\\")
    assert stages and stages[0] is None or stages[0], stages


@pytest.mark.parametrize("lock", [lock for lock in LOCKS if lock.exists()], ids=lambda p: p.name)
def test_every_locked_package_has_a_hash(lock):
    pins = _pins(lock)
    assert pins and all(hashes for _, hashes in pins.values()), [n for n, (_, h) in pins.items() if not h]
    with open(ROOT / "pyproject.toml", "rb") as f:
        project = tomllib.load(f)["project"]
    # the image is the grader: the student's dependencies and the server extra
    wanted = {_canonical(re.split(r"[\[<>=~! ;]", d)[0])
              for d in project["dependencies"] + project["optional-dependencies"]["server"]}
    assert wanted <= set(pins), f"dependencies missing from {lock.name}: {wanted - set(pins)}"


@pytest.mark.parametrize("lock, wheelhouse", [(LOCKS[0], ROOT / "docker" / "wheelhouse"),
                                              (LOCKS[1], ROOT / "docker" / "wheelhouse-cuda")],
                         ids=["cpu", "cuda"])
def test_lock_hashes_are_the_wheelhouse_files(lock, wheelhouse):
    wheels = sorted(wheelhouse.glob("*.whl"))
    if not wheels or not lock.exists():
        pytest.skip(f"no wheelhouse at {wheelhouse} (docker/build-wheelhouse.sh fills it)")
    pins = _pins(lock)
    found = set()
    for wheel in wheels:
        name, version = _canonical(wheel.name.split("-")[0]), wheel.name.split("-")[1].split("+")[0]
        if pins.get(name, (None,))[0] != version:
            continue  # a wheel of another version left from an earlier lock
        digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
        assert digest in pins[name][1], f"{wheel.name}: sha256 {digest} is not in {lock.name}"
        found.add(name)
    assert found == set(pins), f"locked but not in {wheelhouse.name}: {set(pins) - found}"


def test_the_course_files_reach_every_grading_container():
    """course.toml, the LTI configuration and the roster come in through ./config (config/README.md),
    in the grader and in the scale-out workers (which recredit on a regrade and send LTI scores)."""
    yaml = pytest.importorskip("yaml")
    base = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]
    scale = yaml.safe_load((ROOT / "docker-compose.scale.yml").read_text())["services"]
    for service in (base["grader"], scale["worker"]):
        assert "${CONVGRADE_CONFIG_DIR:-./config}:/config:ro" in service["volumes"]
        assert service["environment"]["CONVGRADE_COURSE_CONFIG"] == "/config/course.toml"
        assert service["environment"]["CONVGRADE_LTI_CONFIG"] == "/config/lti/platforms.json"
    assert scale["worker"]["build"]["context"] == ".", "the scale-out variant builds its own image"
    assert (ROOT / "config" / "README.md").is_file()
    ignored = subprocess.run(["git", "check-ignore", "config/course.toml", "config/roster.csv",
                              "config/lti/private.key"], cwd=ROOT, capture_output=True, text=True)
    assert ignored.returncode == 0, ignored.stderr


def test_secrets_and_data_are_ignored():
    paths = [".env", "lti/private.key", "data/convgrade.sqlite3", ".convgrade-secret", "submitted/a/b/c.ipynb"]
    for path in paths:
        assert subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT).returncode == 0, path


def test_what_the_tools_write_with_grades_tokens_or_suites_is_ignored():
    """Every output file the docs' own commands name (--out, --export, --feedback, a gradebook
    database, the Gradescope zip) and the course home's gradebook downloads stay out of git."""
    docs = "\n".join(p.read_text() for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))])
    written = set(re.findall(r"--(?:out|export|feedback) ([\w./-]+)", docs))
    written |= set(re.findall(r"sqlite:///([\w./-]+)", docs))
    written |= set(re.findall(r"convgrade gradescope ([\w./-]+\.zip)", docs))
    api = (ROOT / "grader/doors/service/api.py").read_text()
    for name, wide in re.findall(r"filename=(\w+)\{'(-\w+)' if", api):
        written |= {f"{name}.csv", f"{name}{wide}.csv"}
    assert {"autograder.zip", "gradebook-wide.csv", "grades.csv"} <= written, written
    for path in sorted(written):
        path = path.rstrip("/") + ("/alice/a1/a1.html" if path.endswith("/") or "." not in path else "")
        assert subprocess.run(["git", "check-ignore", "-q", path], cwd=ROOT).returncode == 0, path


@pytest.mark.parametrize("files", VARIANTS, ids="+".join)
def test_every_grading_container_grades_the_checkouts_course(files, tmp_path):
    """The rendered compose config mounts exercises/, solutions/ and autograde_tests/ from the
    host over the image's copy, read-only, in every container that grades: an edited suite is
    graded without a rebuild. The image keeps its own copy for running alone."""
    compose = shutil.which("docker-compose")
    if compose is None:
        pytest.skip("docker-compose is not installed (apt-get install docker-compose)")
    yaml = pytest.importorskip("yaml")
    args = [a for f in files for a in ("-f", str(ROOT / f))]
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(tmp_path)}
    out = subprocess.run([compose, *args, "config"], cwd=ROOT, env=env, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    services = yaml.safe_load(out.stdout)["services"]
    grading = [name for name, service in services.items() if service.get("cap_add")]   # the sandbox's capabilities
    assert "grader" in grading and ("worker" in grading) == ("docker-compose.scale.yml" in files), grading
    for name in grading:
        mounts = {str(v) for v in services[name]["volumes"]}
        for part in ("exercises", "solutions", "autograde_tests"):
            assert f"{ROOT / part}:/srv/convgrade/{part}:ro" in mounts, (name, part, mounts)
    dockerfile = (ROOT / "Dockerfile").read_text()
    for part in ("exercises", "solutions", "autograde_tests"):
        assert f"COPY {part}/ /srv/convgrade/{part}/" in dockerfile
