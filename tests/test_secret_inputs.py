"""Hidden inputs come from the installation's secret (grader.engine.secret), so nothing the sandbox
can read predicts them, and one seed with one secret replays a grading exactly.

- the attack: a corr2d that reads back every generator it can see (torch.initial_seed(),
  numpy's state), tries to read the secret (its file, the environment), and rebuilds the
  hidden inputs of corr2d's random check from all of that with the suite's public code. It
  answers right only for inputs it predicted. Given the seed and the secret (the control)
  it passes the check, which proves the prediction works; on its own it fails, and it
  earns exactly what an honest corr2d with the same wrong answer earns;
- one seed and one secret give the same result test for test, in this process and in a
  `convgrade grade --seed` run in another; another secret gives other inputs;
- the secret file: created once, mode 0600, in the data directory, the same for every
  process of the installation; nbgrader's door uses a random secret of its own.

Slow-ish: five gradings of a1 and one CLI run.
"""

import ast
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from grader.course import assignments
from grader.engine import secret
from grader.engine.checks import rng
from grader.engine.grading import grade
from submissions import make_submission

A1 = "a1_cross_correlation"
RANDOM_CHECK = "test_corr2d_random_values"
SEED = 90210


def random_cases():
    """RANDOM_CASES of the a1 suite, read from its source (public to a student who has it)."""
    path = assignments.suite_dir(A1) / "test_corr2d.py"
    tree = ast.parse(path.read_text())
    node = next(n for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "RANDOM_CASES")
    return ast.get_source_segment(path.read_text(), node.value)


def attack(known=None):
    """The predicting corr2d; `known` = (seed, secret) for the control."""
    return f'''
import hashlib
import hmac
import os
import numpy

_CASES = {random_cases()}
_KNOWN = {known!r}
_NAME = "{RANDOM_CHECK}"


def _hmac_key(secret, seed):
    message = b"\\0".join([b"inputs", str(int(seed)).encode(), _NAME.encode()])
    return int.from_bytes(hmac.new(secret, message, hashlib.sha256).digest()[:8], "little") & (2**63 - 1)


def _candidate_keys():
    seeds = {{torch.initial_seed(), int(numpy.random.get_state()[1][0])}}
    found = []
    for path in {[str(secret.secret_path()), str(assignments.COURSE_DIR / ".convgrade-secret")]!r}:
        try:
            with open(path) as f:
                found.append(f.read().strip().encode())
        except Exception:
            pass
    if os.environ.get("CONVGRADE_SECRET"):
        found.append(os.environ["CONVGRADE_SECRET"].encode())
    keys = []
    for seed in seeds:  # the old public derivation, and the new one with any secret found
        keys.append(int.from_bytes(hashlib.sha256(f"{{seed}}:{{_NAME}}".encode()).digest()[:8], "little")
                    & (2**63 - 1))
        keys += [_hmac_key(s, seed) for s in found]
    if _KNOWN:
        keys.append(_hmac_key(_KNOWN[1].encode(), _KNOWN[0]))
    return keys


def _predicted():
    predicted = []
    for key in _candidate_keys():
        gen = torch.Generator().manual_seed(key)
        for _device in range(2):
            for x_shape, k_shape, dtype in _CASES:
                predicted.append(torch.randn(x_shape, generator=gen, dtype=dtype))
                torch.randn(k_shape, generator=gen, dtype=dtype)
    return predicted


def _loop(X, K):
    h, w = K.shape
    Y = torch.zeros((X.shape[0] - h + 1, X.shape[1] - w + 1), dtype=X.dtype, device=X.device)
    for i in range(Y.shape[0]):
        for j in range(Y.shape[1]):
            Y[i, j] = (X[i:i + h, j:j + w] * K).sum()
    return Y


def corr2d(X, K):
    seen = X.detach().cpu()
    if any(p.shape == seen.shape and p.dtype == seen.dtype and torch.equal(p, seen) for p in _predicted()):
        return _loop(X, K)
    return torch.zeros((X.shape[0] - K.shape[0] + 1, X.shape[1] - K.shape[1] + 1), dtype=X.dtype, device=X.device)
'''


ZEROS = '''
def corr2d(X, K):
    return torch.zeros((X.shape[0] - K.shape[0] + 1, X.shape[1] - K.shape[1] + 1), dtype=X.dtype, device=X.device)
'''


def outcome(result, test_id=None):
    return {t["id"]: (t["status"], t["score"], t["output"]) for t in result["tests"]
            if test_id is None or t["id"] == test_id}


def status_of(result, test_id):
    return outcome(result, test_id)[test_id][0]


@pytest.fixture(scope="module")
def graded():
    secret_now = os.environ["CONVGRADE_SECRET"]
    return {
        "control": grade(make_submission(A1, {"corr2d": attack((SEED, secret_now))}), A1, seed=SEED),
        "attack": grade(make_submission(A1, {"corr2d": attack()}), A1, seed=SEED),
        "zeros": grade(make_submission(A1, {"corr2d": ZEROS}), A1, seed=SEED),
    }


def test_the_attack_predicts_the_inputs_when_given_the_seed_and_the_secret(graded):
    assert status_of(graded["control"], RANDOM_CHECK) == "passed", outcome(graded["control"], RANDOM_CHECK)


def test_the_attack_cannot_predict_the_inputs_from_what_the_sandbox_shows(graded):
    assert status_of(graded["attack"], RANDOM_CHECK) == "failed"
    assert "wrong values" in outcome(graded["attack"], RANDOM_CHECK)[RANDOM_CHECK][2]


def test_the_attack_earns_what_the_same_mistake_made_openly_earns(graded):
    attack_scores = {k: v[1] for k, v in outcome(graded["attack"]).items()}
    zeros_scores = {k: v[1] for k, v in outcome(graded["zeros"]).items()}
    # No more, check for check (the attack's reads of the environment also cost it the
    # "computes it itself" check: the static rule fails closed on what it cannot resolve).
    assert all(attack_scores[k] <= zeros_scores[k] for k in zeros_scores), (attack_scores, zeros_scores)
    assert graded["attack"]["score"] <= graded["zeros"]["score"]


def test_the_sandbox_is_not_seeded_with_the_recorded_seed():
    """What the program reads back is HMAC(secret, seed, "sandbox"), never the seed."""
    assert secret.sandbox_seed(SEED) not in (SEED, SEED % 2**32)
    assert secret.sandbox_seed(SEED) != secret.input_seed(SEED, "sandbox")


def test_one_seed_and_one_secret_replay_test_for_test_in_another_process(graded, tmp_path):
    """The wrong corr2d's failure messages quote values of the hidden inputs: equal messages
    are equal inputs. A second grading here, and `convgrade grade --seed` in a new process
    with the same secret, give the same result; another secret gives other inputs."""
    again = grade(make_submission(A1, {"corr2d": ZEROS}), A1, seed=SEED)
    assert outcome(again) == outcome(graded["zeros"])
    path = tmp_path / f"{A1}.ipynb"
    path.write_bytes(make_submission(A1, {"corr2d": ZEROS}))
    run = subprocess.run([sys.executable, "-m", "grader.cli", "grade", str(path), "--json", "--seed", str(SEED),
                          "--no-daemon"], capture_output=True, text=True, timeout=600,
                         env={**os.environ, "CONVGRADE_NO_DAEMON": "1"})
    assert run.returncode in (0, 1), run.stderr[-2000:]
    replayed = json.loads(run.stdout)
    assert replayed["seed"] == SEED
    assert outcome(replayed) == outcome(graded["zeros"])


def test_another_secret_draws_other_inputs():
    def first_input(key):
        return torch.randn(5, 7, generator=torch.Generator().manual_seed(secret.input_seed(SEED, RANDOM_CHECK, key)))
    assert not torch.equal(first_input(b"one installation"), first_input(b"another installation"))
    assert torch.equal(first_input(b"one installation"), first_input(b"one installation"))
    same = torch.randn(5, 7, generator=rng(SEED, RANDOM_CHECK))
    assert torch.equal(same, first_input(os.environ["CONVGRADE_SECRET"].encode()))


PRINT_SECRET_USE = ("from grader.engine import secret; import json; "
                    "print(json.dumps([secret.input_seed(1, 'x'), str(secret.secret_path())]))")


def _secret_in(data_dir):
    env = {k: v for k, v in os.environ.items() if k != "CONVGRADE_SECRET"}
    env["CONVGRADE_DATA_DIR"] = str(data_dir)
    run = subprocess.run([sys.executable, "-c", PRINT_SECRET_USE], capture_output=True, text=True,
                         env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout)


def test_without_the_variable_the_secret_is_a_private_file_of_the_data_directory(tmp_path):
    first, path = _secret_in(tmp_path / "data")
    assert Path(path) == tmp_path / "data" / ".convgrade-secret"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert _secret_in(tmp_path / "data")[0] == first, "every process of the installation reads the same"
    assert _secret_in(tmp_path / "other")[0] != first, "another installation has its own"
    assert list((tmp_path / "data").iterdir()) == [Path(path)], "no staging file left behind"


def test_the_secret_file_is_hidden_from_the_sandbox():
    hidden = [Path(p).resolve() for p in assignments.hidden_paths()]
    assert any(secret.secret_path().resolve().is_relative_to(h) for h in hidden)
    grader_package = Path(secret.__file__).resolve().parent  # what the sandbox's root shows of the checkout
    assert not secret.secret_path().resolve().is_relative_to(grader_package)


def test_the_nbgrader_door_draws_from_a_secret_of_its_own():
    installation = secret.input_seed(SEED, RANDOM_CHECK)
    with secret.private_secret():
        private = secret.input_seed(SEED, RANDOM_CHECK)
        assert private != installation
        assert secret.input_seed(SEED, RANDOM_CHECK) == private, "the same within one process"
    assert secret.input_seed(SEED, RANDOM_CHECK) == installation
