"""scripts/run_tests.py: every test file runs in exactly one shard, the shards are balanced by the
recorded durations, and no two shards share a vhost, a database prefix or preferred ports."""
import importlib.util
from pathlib import Path

_spec = importlib.util.spec_from_file_location(
    "run_tests", Path(__file__).resolve().parent.parent / "scripts" / "run_tests.py")
run_tests = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(run_tests)


def test_every_file_lands_in_exactly_one_shard_longest_first():
    durations = {"a.py": 100.0, "b.py": 60.0, "c.py": 50.0, "d.py": 10.0}
    shards = run_tests.deal(["a.py", "b.py", "c.py", "d.py", "new.py"], durations, 2)
    assert sorted(f for shard in shards for f in shard) == ["a.py", "b.py", "c.py", "d.py", "new.py"]
    loads = [sum(durations.get(f, run_tests.DEFAULT_SECONDS) for f in shard) for shard in shards]
    # a (100) | b (60); c (50) joins b (110); d (10) and new (5) join a: 115 against 110
    assert sorted(loads) == [110.0, 115.0]
    assert ["a.py", "d.py", "new.py"] in shards


def test_the_suite_s_files_are_found_and_none_is_a_benchmark():
    files = run_tests.test_files()
    assert "tests/test_run_tests.py" in files
    assert any(f.startswith("gateway/tests/") for f in files) and any(f.startswith("services/") for f in files)
    assert not any(f.startswith("tests/bench/") for f in files)


def test_shards_never_share_a_vhost_databases_or_ports(monkeypatch):
    monkeypatch.setenv("CUSTOPS_TEST_VHOST", "custops_test_x")
    monkeypatch.delenv("CUSTOPS_DB_PREFIX", raising=False)
    one, two = run_tests.shard_env(1), run_tests.shard_env(2)
    for key in ("CUSTOPS_TEST_VHOST", "CUSTOPS_DB_PREFIX", "CUSTOPS_E2E_VHOST", "CUSTOPS_E2E_DB_PREFIX",
                "CUSTOPS_TEST_PORT_OFFSET"):
        assert one[key] != two[key], key
    assert one["CUSTOPS_TEST_VHOST"] == "custops_test_x_s1"
    assert two["CUSTOPS_DB_PREFIX"] == "custops_test_s2_"


def test_a_broker_given_by_uri_runs_as_one_shard(monkeypatch):
    monkeypatch.setenv("AMQP_URI", "amqp://guest:guest@rabbit.example:5672/")
    assert run_tests.own_broker() is False
