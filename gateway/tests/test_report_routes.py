"""`/reports/status` and `/reports/time` with the RpcClient double: the JSON passes through, the CSV
is the report's table as a download a spreadsheet opens as is."""
from __future__ import annotations

import csv
import io
import uuid

CUSTOMER_ID = str(uuid.uuid4())
PROJECT_ID = str(uuid.uuid4())


def _figures(this_week, last_week, delta, pct, status):
    return {"this_week": this_week, "last_week": last_week, "delta": delta, "delta_pct": pct, "status": status,
            "overdue_tasks": 0, "missed_milestones": 0}


STATUS = {"week_start": "2026-03-01", "last_week_start": "2026-02-22", "as_of": "2026-03-08",
          "timezone": "America/New_York", "first_day_of_week": "sunday",
          "items": [{"project_id": PROJECT_ID, "customer_id": CUSTOMER_ID, "project_name": "=HYPERLINK(\"x\")",
                     **_figures(7, 10, -3, -30.0, "Delayed")},
                    {"project_id": None, "customer_id": CUSTOMER_ID, "project_name": "Tickets",
                     **_figures(2, 0, 2, None, "On Track")}],
          "customers": [{"customer_id": CUSTOMER_ID, **_figures(9, 10, -1, -10.0, "On Track")}]}


def _rows(response) -> list[list[str]]:
    text = response.get_data(as_text=True)
    assert text.startswith("\ufeff")
    return list(csv.reader(io.StringIO(text[1:])))


def test_the_status_report_as_json_and_as_the_seeds_csv_table(client, services, bearer):
    services.on("reports", "status_report", lambda tenant, week, customer: STATUS)
    answer = client.get(f"/api/v1/reports/status?week=2026-03-04&customer_id={CUSTOMER_ID}", headers=bearer("owner"))
    assert answer.status_code == 200 and answer.get_json() == STATUS
    assert services.calls_to("reports", "status_report")[-1][1:] == ("2026-03-04", CUSTOMER_ID)

    download = client.get("/api/v1/reports/status?format=csv", headers=bearer("read_only"))
    assert download.status_code == 200 and download.mimetype == "text/csv"
    assert 'filename="status-2026-03-01.csv"' in download.headers["Content-Disposition"]
    assert _rows(download) == [["Project", "This Week", "Last Week", "Δ", "Status"],
                               ["'=HYPERLINK(\"x\")", "7", "10", "-3", "Delayed"],  # a formula stays text
                               ["Tickets", "2", "0", "2", "On Track"]]


def test_the_time_report_as_csv_with_its_totals(client, services, bearer):
    figures = {"tracked_minutes": 120, "billable_minutes": 90, "internal_minutes": 30, "tracked_hours": 2.0,
               "billable_hours": 1.5, "internal_hours": 0.5, "utilization": 0.75}
    report = {"group_by": "category", "date_from": "2026-06-01", "date_to": "2026-06-07",
              "items": [{"key": "development", **figures}, {"key": None, **figures, "utilization": None}],
              "totals": figures}
    services.on("reports", "time_report", lambda tenant, group_by, date_from, date_to, customer: report)
    download = client.get("/api/v1/reports/time?group_by=category&date_from=2026-06-01&date_to=2026-06-07&format=csv",
                          headers=bearer("admin"))
    assert services.calls_to("reports", "time_report")[-1][1:] == ("category", "2026-06-01", "2026-06-07", None)
    assert _rows(download) == [["Category", "Tracked Hours", "Billable Hours", "Internal Hours",
                                "Billable Utilization"],
                               ["development", "2.0", "1.5", "0.5", "0.75"], ["(none)", "2.0", "1.5", "0.5", ""],
                               ["Total", "2.0", "1.5", "0.5", "0.75"]]
    assert client.get("/api/v1/reports/time", headers=bearer("owner")).get_json() == report


def test_bad_report_parameters_are_refused_and_scoped_roles_see_no_report(client, services, bearer, problem):
    services.on("reports", "status_report", lambda *args: STATUS)
    services.on("reports", "time_report", lambda *args: {})
    for url in ["/api/v1/reports/status?format=pdf", "/api/v1/reports/status?week=soon",
                "/api/v1/reports/time?group_by=team", "/api/v1/reports/time?date_from=2026-02-30"]:
        doc = problem(client.get(url, headers=bearer("owner")), 422)
        assert doc["errors"][0]["field"] == url.split("?")[1].split("=")[0]  # the field is named
    assert client.get("/api/v1/reports/status", headers=bearer("member")).status_code == 403
    assert client.get("/api/v1/reports/time", headers=bearer("contractor")).status_code == 403
    assert services.calls_to("reports", "time_report") == []


def test_sla_attainment_as_csv(client, services, bearer):
    def rates(met, breached):
        return {"met": met, "breached": breached, "total": met + breached,
                "attainment_pct": 100.0 * met / (met + breached),
                "breach_rate_pct": 100.0 * breached / (met + breached)}

    timer = {**rates(1, 1), "by_priority": [{"key": "urgent", **rates(0, 1)}, {"key": "normal", **rates(1, 0)}],
             "by_tier": [{"key": None, **rates(1, 1)}]}
    report = {"date_from": "2026-05-04", "date_to": "2026-05-10", "first_response": timer, "resolution": timer}
    services.on("reports", "sla_attainment", lambda tenant, date_from, date_to, period, day: report)
    assert client.get("/api/v1/reports/sla?date_from=2026-05-04", headers=bearer("owner")).get_json() == report
    assert services.calls_to("reports", "sla_attainment")[-1][1:] == ("2026-05-04", None, None, None)
    rows = _rows(client.get("/api/v1/reports/sla?format=csv", headers=bearer("read_only")))
    assert rows[:5] == [["Timer", "Group", "Key", "Met", "Breached", "Attainment %", "Breach Rate %",
                         "Median Business Minutes", "P90 Business Minutes"],
                        ["first_response", "All", "", "1", "1", "50.0", "50.0", "", ""],
                        ["first_response", "priority", "urgent", "0", "1", "0.0", "100.0", "", ""],
                        ["first_response", "priority", "normal", "1", "0", "100.0", "0.0", "", ""],
                        ["first_response", "tier", "(unknown)", "1", "1", "50.0", "50.0", "", ""]]
    assert len(rows) == 9


def test_status_rules_are_read_by_report_readers_and_changed_by_managers(client, services, bearer, problem):
    rules = {"delayed_pct": 30.0, "ahead_pct": 30.0, "min_last_week": 1, "at_risk_overdue_tasks": 1,
             "at_risk_missed_milestones": 1}
    services.on("reports", "get_status_rules", lambda tenant: rules)
    services.on("reports", "put_status_rules", lambda tenant, given: {**rules, **given})
    assert client.get("/api/v1/reports/status-rules", headers=bearer("read_only")).get_json() == rules
    changed = client.put("/api/v1/reports/status-rules", json={"min_last_week": 5}, headers=bearer("admin"))
    assert changed.status_code == 200 and changed.get_json()["min_last_week"] == 5
    assert services.calls_to("reports", "put_status_rules")[-1][1:] == ({"min_last_week": 5},)
    problem(client.put("/api/v1/reports/status-rules", json={"delayed_pct": 0}, headers=bearer("owner")), 422)
    problem(client.put("/api/v1/reports/status-rules", json={"surprise": 1}, headers=bearer("owner")), 400)
    assert client.put("/api/v1/reports/status-rules", json={}, headers=bearer("read_only")).status_code == 403
    assert len(services.calls_to("reports", "put_status_rules")) == 1
