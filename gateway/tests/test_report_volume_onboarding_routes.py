"""`/reports/ticket-volume/periods`, `/reports/onboarding-velocity` and the SLA report's period
parameters with the RpcClient double: parameters reach the service, the CSV is the report's table."""
from __future__ import annotations

import csv
import io


def _rows(response) -> list[list[str]]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


COUNTS = {"created": 2, "resolved": 1, "reopened": 0, "backlog": 3}
VOLUME = {"group_by": "customer", "period": "month", "timezone": "UTC", "first_day_of_week": "monday",
          "periods": [{"period_start": "2026-05-01", "period_end": "2026-05-31", "totals": COUNTS,
                     "groups": [{"key": "c1", "name": "=Acme", **COUNTS}, {"key": None, "name": None, **COUNTS}]}]}


def test_ticket_volume_by_period_as_json_and_csv(client, services, bearer, problem):
    services.on("reports", "ticket_volume_report", lambda tenant, *args: VOLUME)
    answer = client.get("/api/v1/reports/ticket-volume/periods?group_by=customer&period=month&periods=3"
                        "&date=2026-05-04", headers=bearer("owner"))
    assert answer.status_code == 200 and answer.get_json() == VOLUME
    assert services.calls_to("reports", "ticket_volume_report")[-1][1:] == ("customer", "month", 3, "2026-05-04",
                                                                           None)
    rows = _rows(client.get("/api/v1/reports/ticket-volume/periods?format=csv&group_by=customer",
                            headers=bearer("read_only")))
    assert rows == [["Period Start", "Customer", "Created", "Resolved", "Reopened", "Backlog"],
                    ["2026-05-01", "'=Acme", "2", "1", "0", "3"], ["2026-05-01", "(unknown)", "2", "1", "0", "3"]]
    for url in ["?group_by=team", "?period=day", "?periods=0", "?periods=105", "?date=2026-13-01"]:
        problem(client.get("/api/v1/reports/ticket-volume/periods" + url, headers=bearer("owner")), 422)
    assert client.get("/api/v1/reports/ticket-volume/periods", headers=bearer("member")).status_code == 403
    assert len(services.calls_to("reports", "ticket_volume_report")) == 2


FIGURES = {"plans": 2, "average_days": 12.5, "median_days": 12.5, "plans_due": 1, "completed_within_target": 1,
           "completion_rate_pct": 100.0}
STEP = {"step_key": "setup", "tasks": 2, "average_delay_days": 3.0}
VELOCITY = {"timezone": "UTC", "date_from": "2026-04-01", "date_to": "2026-06-30", "as_of": "2026-05-10",
            **FIGURES, "slowest_step": STEP, "steps": [STEP], "by_tier": [{"tier": "smb", **FIGURES}],
            "previous": {"date_from": "2026-01-01", "date_to": "2026-03-31", **FIGURES, "plans": 0,
                         "average_days": None, "slowest_step": None},
            "delta": {"average_days": None, "median_days": 0.0, "completion_rate_pct": 0.0}}


def test_onboarding_velocity_as_json_and_csv(client, services, bearer, problem):
    services.on("reports", "onboarding_velocity", lambda tenant, quarter: VELOCITY)
    answer = client.get("/api/v1/reports/onboarding-velocity?quarter=2026-05-01", headers=bearer("admin"))
    assert answer.status_code == 200 and answer.get_json() == VELOCITY
    assert services.calls_to("reports", "onboarding_velocity")[-1][1:] == ("2026-05-01",)
    rows = _rows(client.get("/api/v1/reports/onboarding-velocity?format=csv", headers=bearer("read_only")))
    assert rows[0][0] == "Segment" and rows[1] == ["All", "2", "12.5", "12.5", "1", "100.0"]
    assert rows[2][0] == "smb" and rows[3][:3] == ["Previous quarter", "0", ""]
    problem(client.get("/api/v1/reports/onboarding-velocity?quarter=soon", headers=bearer("owner")), 422)
    assert client.get("/api/v1/reports/onboarding-velocity", headers=bearer("contractor")).status_code == 403


def test_the_sla_report_by_period_reaches_the_service(client, services, bearer, problem):
    services.on("reports", "sla_attainment", lambda tenant, *args: {"args": list(args)})
    client.get("/api/v1/reports/sla?period=month&date=2026-05-06", headers=bearer("owner"))
    assert services.calls_to("reports", "sla_attainment")[-1][1:] == (None, None, "month", "2026-05-06")
    problem(client.get("/api/v1/reports/sla?period=fortnight", headers=bearer("owner")), 422)
