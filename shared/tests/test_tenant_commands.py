"""The demo seed's env file (pure): written readable by its owner only, read back as written."""
from custops import tenant_commands


def test_the_env_file_round_trips_and_is_private(tmp_path):
    path = tmp_path / "var" / "demo.env"
    values = {"CUSTOPS_URL": "http://127.0.0.1:8080/api/v1", "CUSTOPS_TOKEN": "cst_a-b_c"}
    tenant_commands.write_env_file(path, values)
    assert path.stat().st_mode & 0o777 == 0o600
    assert tenant_commands.read_env_file(path) == values
    # as scripts/run.py writes it too (shell-quoted), and with a comment
    path.write_text("# demo\nCUSTOPS_URL='http://x/api/v1'\nCUSTOPS_TOKEN=cst_x\n")
    assert tenant_commands.read_env_file(path) == {"CUSTOPS_URL": "http://x/api/v1", "CUSTOPS_TOKEN": "cst_x"}
    assert tenant_commands.read_env_file(tmp_path / "absent.env") == {}
