"""The CPO report in SQL vs PM4Py computing the same figures (DESIGN §5, "History at scale").

    python benchmarks/report_vs_pm4py.py                    # 1,000,000 events (several minutes)
    python benchmarks/report_vs_pm4py.py --events 100000 --json
    python benchmarks/report_vs_pm4py.py --keep /tmp/bench  # keep the database and the exports

1. A fresh SQLite file gets Handoff's schema (`Handoff(Database(url)).init()`), then a seeded bulk
   generator writes N events of history with the sqlite3 driver under that schema: instances of a
   4-lane, 8-activity order process (one script task, a credit loop that sends work back to Sales),
   human tasks with actors (ready -> claimed -> completed, some completed unclaimed), and the rows the
   report reads, derived from the same simulated timeline: process_instance, human_task, handoff,
   boundary_crossing (with ping-pong), delay (task waits over the activity's SLA, cycle times over P3D).
   The newest instances are still running at the end of the history ("now").
2. Exports (timed apart, in neither contestant): `handoff export --format xes --schedule` and
   `--format csv --schedule`.
3. Contestants, each a subprocess so its peak RSS is its own (os.wait4 rusage):
   (a) `handoff --db URL report --format json --out FILE`;
   (b) PM4Py read + compute: `pm4py.read_xes` of the XES export, then `compute()` below;
   (c) PM4Py compute only: the CSV export loaded with pandas first (not timed), then `compute()` timed.
   Times are wall clock of the subprocess for (a) and (b), and of `compute()` alone for (c).

PM4Py's side (`compute`) computes the equivalent figures from the log: cycle time of completed cases
(last activity "Confirm delivery" completed) p50/p90/p99; per lane waiting (schedule -> start, or ->
complete if never started) and processing p50/p90, waiting share, flow efficiency; throughput per week;
the lane x lane handoff matrix (successive human activities of a case done by different resources,
latency = A complete -> B start) and the slowest resource pairs, plus PM4Py's own
`discover_handover_of_work_network`; boundary crossings per case (successive activities in different
org:group; ping-pong = back to the lane the previous crossing left) and ping-pong per activity; rework
per activity; SLA breaches (waits over the activity's SLA, open tasks against the last timestamp;
completed cases over 3 days) by lane and activity; bottlenecks. Percentiles by nearest rank
(numpy `inverted_cdf`), like Handoff's. Key figures of both sides are compared at the end.

PM4Py is AGPL: a benchmark dependency only.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PROCESS = "cpo_bench"
LANES = {
    "Customer Service": ["ann", "carl", "cleo", "cy", "cora"],
    "Sales": ["sam", "sid", "sue", "sven", "sol"],
    "Finance": ["fay", "fred", "fin", "flo", "fox"],
    "Warehouse": ["walt", "wes", "wil", "wyn", "wu"],
}
# element id, name, type, lane, SLA seconds (human tasks), mean wait s, mean processing s
ACT = {
    "Task_Register": ("Register order", "userTask", "Customer Service", 4 * 3600, 1800, 900),
    "Task_AssessRisk": ("Assess risk", "scriptTask", "Finance", None, 0, 0),
    "Task_Approve": ("Approve credit", "userTask", "Finance", 8 * 3600, 3 * 3600, 1200),
    "Task_Revise": ("Revise order", "userTask", "Sales", 4 * 3600, 3600, 900),
    "Task_Invoice": ("Issue invoice", "userTask", "Finance", 8 * 3600, 2 * 3600, 600),
    "Task_Pick": ("Pick and pack", "userTask", "Warehouse", 86400, 5 * 3600, 2400),
    "Task_Ship": ("Ship order", "userTask", "Warehouse", 86400, 4 * 3600, 1800),
    "Task_Confirm": ("Confirm delivery", "userTask", "Customer Service", 8 * 3600, 2 * 3600, 600),
}
SLA_BY_NAME = {v[0]: v[3] for v in ACT.values() if v[3]}
CYCLE_SLA = 3 * 86400
LAST_ACTIVITY = "Confirm delivery"
BASE = datetime(2026, 1, 5, 8, 0, 0)


# --- 1. the generator ----------------------------------------------------------------------------------


def _ts(us: int) -> str:
    # SQLAlchemy's SQLite DateTime storage format: always six digits of microseconds.
    return (BASE + timedelta(microseconds=us)).isoformat(sep=" ", timespec="microseconds")


def _path(rng: random.Random) -> list[str]:
    path = ["Task_Register", "Task_AssessRisk", "Task_Approve"]
    loops = 0
    while loops < 3 and rng.random() < 0.2:  # credit refused: back to Sales, then Finance again
        path += ["Task_Revise", "Task_AssessRisk", "Task_Approve"]
        loops += 1
    return path + ["Task_Invoice", "Task_Pick", "Task_Ship", "Task_Confirm"]


def generate(url: str, db_file: str, events_target: int, seed: int) -> dict:
    """Create the schema with Handoff, then bulk-insert a consistent history of ~events_target events."""
    sys.path.insert(0, str(ROOT))
    from engine import Handoff
    from storage import Database

    t0 = time.perf_counter()
    app = Handoff(Database(url))
    app.init()
    app.db.engine.dispose()

    rng = random.Random(seed)
    con = sqlite3.connect(db_file)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-200000")
    con.execute(
        "INSERT INTO process_definition (id, process_id, version, name, dialect, checksum, spec, model,"
        " deployed_at, deployed_by) VALUES (1, ?, 1, 'CPO benchmark', 'camunda', ?, '', '{}', ?, 'bench')",
        (PROCESS, "0" * 64, _ts(0)),
    )
    # Pass 1: simulate every instance on its own timeline (microseconds since BASE).
    sims = []
    n_events_est = 0
    start_us = 0
    while n_events_est < events_target:
        start_us += int(rng.expovariate(1 / 600) * 1e6) + 1  # an order every ~10 minutes
        t = start_us
        acts = []
        for el in _path(rng):
            name, typ, lane, sla, mwait, mproc = ACT[el]
            token = f"{rng.getrandbits(128):032x}"
            token = f"{token[:8]}-{token[8:12]}-{token[12:16]}-{token[16:20]}-{token[20:]}"
            if typ == "scriptTask":
                acts.append((el, token, None, t, None, t))
                n_events_est += 1
                continue
            actor = rng.choice(LANES[lane])
            ready = t
            claimed = ready + int(rng.expovariate(1 / mwait) * 1e6)
            done = claimed + int(rng.expovariate(1 / mproc) * 1e6) + 1_000_000
            if rng.random() < 0.05:  # completed without a claim: taken up and done at once
                done, claimed = claimed, None
            acts.append((el, token, actor, ready, claimed, done))
            t = done
            n_events_est += 3 if claimed is not None else 2
        n_events_est += 2
        sims.append((start_us, acts))
    now = sims[-1][0] + 86400 * 1_000_000  # the history ends a day after the last order arrived

    ev_rows, pi_rows, ht_rows, ho_rows, bc_rows, dl_rows = [], [], [], [], [], []
    eid = 0
    tid = 0
    for iid, (st, acts) in enumerate(sims, start=1):
        eid += 1
        ev_rows.append(
            (
                eid,
                iid,
                PROCESS,
                1,
                None,
                None,
                None,
                None,
                None,
                "instance_started",
                "web-shop",
                _ts(st),
                '{"data": {}}',
                None,
                None,
            )
        )
        prev = None  # (lane, completed event id, token) of the causal predecessor
        prev_human = None  # (actor, lane, completed event id, completed us, element, task id)
        last_cross_from = None
        open_instance = False
        ops = 1
        for el, token, actor, ready, claimed, done in acts:
            name, typ, lane, sla, _, _ = ACT[el]
            cause = prev[2] if prev else None
            if typ == "scriptTask":
                if done > now:
                    open_instance = True
                    break
                eid += 1
                ev_rows.append(
                    (
                        eid,
                        iid,
                        PROCESS,
                        1,
                        None,
                        el,
                        name,
                        typ,
                        lane,
                        "task_completed",
                        None,
                        _ts(done),
                        '{"changed": {}}',
                        token,
                        cause,
                    )
                )
                done_eid = eid
            else:
                if ready > now:
                    open_instance = True
                    break
                tid += 1
                eid += 1
                ev_rows.append(
                    (
                        eid,
                        iid,
                        PROCESS,
                        1,
                        tid,
                        el,
                        name,
                        typ,
                        lane,
                        "task_ready",
                        None,
                        _ts(ready),
                        None,
                        token,
                        cause,
                    )
                )
                is_claimed = claimed is not None and claimed <= now
                if is_claimed:
                    eid += 1
                    ev_rows.append(
                        (
                            eid,
                            iid,
                            PROCESS,
                            1,
                            tid,
                            el,
                            name,
                            typ,
                            lane,
                            "task_claimed",
                            actor,
                            _ts(claimed),
                            None,
                            token,
                            None,
                        )
                    )
                    ops += 1
                finished = done <= now
                taken = claimed if claimed is not None else done
                if finished:
                    eid += 1
                    data = json.dumps(
                        {"form": {}, "ready_at": _ts(ready), "claimed_at": _ts(claimed) if claimed else None}
                    )
                    ev_rows.append(
                        (
                            eid,
                            iid,
                            PROCESS,
                            1,
                            tid,
                            el,
                            name,
                            typ,
                            lane,
                            "task_completed",
                            actor,
                            _ts(done),
                            data,
                            token,
                            cause,
                        )
                    )
                    done_eid = eid
                    ops += 1
                state = "completed" if finished else ("claimed" if is_claimed else "ready")
                ht_rows.append(
                    (
                        tid,
                        iid,
                        token,
                        el,
                        name,
                        typ,
                        lane,
                        "[]",
                        state,
                        actor if (finished or is_claimed) else None,
                        _ts(ready),
                        _ts(claimed) if is_claimed else None,
                        _ts(done) if finished else None,
                        actor if finished else None,
                        _ts(ready + sla * 1_000_000),
                        "{}" if finished else None,
                        # what engine/kernel/task_times.py writes when the task completes
                        (taken - ready) / 1e6 if finished else None,
                        (done - taken) / 1e6 if finished else None,
                    )
                )
                # SLA breach: waited (ready -> taken, or -> now while open) beyond the activity's SLA
                wait_end = taken if (taken is not None and taken <= now) else now
                waited = (wait_end - ready) / 1e6
                if waited > sla:
                    dl_rows.append(
                        (
                            f"task:{tid}",
                            iid,
                            PROCESS,
                            "task_wait",
                            tid,
                            el,
                            name,
                            lane,
                            _ts(ready),
                            round(waited, 6),
                            float(sla),
                            "bpmn",
                            int(wait_end == now),
                            _ts(ready + sla * 1_000_000),
                        )
                    )
                if not finished:
                    open_instance = True
                    break
                if prev_human is not None and prev_human[0] != actor:
                    ho_rows.append(
                        (
                            iid,
                            PROCESS,
                            prev_human[2],
                            done_eid,
                            prev_human[5],
                            tid,
                            prev_human[4],
                            ACT[prev_human[4]][0],
                            el,
                            name,
                            prev_human[0],
                            actor,
                            prev_human[1],
                            lane,
                            _ts(prev_human[3]),
                            _ts(taken),
                            round((taken - prev_human[3]) / 1e6, 6),
                        )
                    )
                prev_human = (actor, lane, done_eid, done, el, tid)
            if prev is not None and prev[0] != lane:
                ping = last_cross_from == lane
                bc_rows.append(
                    (
                        iid,
                        PROCESS,
                        prev[1],
                        done_eid,
                        prev[3],
                        ACT[prev[3]][0],
                        el,
                        name,
                        prev[0],
                        lane,
                        _ts(done),
                        int(ping),
                    )
                )
                last_cross_from = prev[0]
            prev = (lane, done_eid, token, el)
        if open_instance:
            status, completed_at, updated = "running", None, _ts(now)
            if (now - st) / 1e6 > CYCLE_SLA:
                dl_rows.append(
                    (
                        f"instance:{iid}",
                        iid,
                        PROCESS,
                        "cycle_time",
                        None,
                        None,
                        None,
                        None,
                        _ts(st),
                        (now - st) / 1e6,
                        float(CYCLE_SLA),
                        "bpmn",
                        1,
                        _ts(st + CYCLE_SLA * 1_000_000),
                    )
                )
        else:
            end = acts[-1][5]
            eid += 1
            ev_rows.append(
                (
                    eid,
                    iid,
                    PROCESS,
                    1,
                    None,
                    None,
                    None,
                    None,
                    None,
                    "instance_completed",
                    None,
                    _ts(end),
                    None,
                    None,
                    None,
                )
            )
            status, completed_at, updated = "completed", _ts(end), _ts(end)
            if (end - st) / 1e6 > CYCLE_SLA:
                dl_rows.append(
                    (
                        f"instance:{iid}",
                        iid,
                        PROCESS,
                        "cycle_time",
                        None,
                        None,
                        None,
                        None,
                        _ts(st),
                        (end - st) / 1e6,
                        float(CYCLE_SLA),
                        "bpmn",
                        0,
                        _ts(st + CYCLE_SLA * 1_000_000),
                    )
                )
        pi_rows.append(
            (
                iid,
                1,
                PROCESS,
                f"SO-{iid}",
                status,
                "" if status == "completed" else "{}",
                "{}",
                None,
                None,
                ops,
                _ts(st),
                updated,
                completed_at,
                "web-shop",
            )
        )
        if eid >= events_target:
            break
    t_sim = time.perf_counter() - t0

    with con:
        con.executemany(
            "INSERT INTO process_instance (id, definition_id, process_id, business_key, status, state, data,"
            " error, next_due_at, version_counter, created_at, updated_at, completed_at, started_by)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            pi_rows,
        )
        con.executemany(
            "INSERT INTO human_task (id, instance_id, spiff_task_id, element_id, name, type, lane, form, state,"
            " assignee, created_at, claimed_at, completed_at, completed_by, due_at, data, wait_seconds,"
            " processing_seconds) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            ht_rows,
        )
        con.executemany(
            "INSERT INTO event (id, instance_id, process_id, version, task_id, element_id, element_name,"
            " element_type, lane, kind, actor, at, data, token, cause) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            ev_rows,
        )
        con.executemany(
            "INSERT INTO handoff (instance_id, process_id, from_event_id, to_event_id, from_task_id, to_task_id,"
            " from_element, from_name, to_element, to_name, from_actor, to_actor, from_lane, to_lane, from_at,"
            " to_at, latency_seconds) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            ho_rows,
        )
        con.executemany(
            "INSERT INTO boundary_crossing (instance_id, process_id, from_event_id, to_event_id, from_element,"
            " from_name, to_element, to_name, from_lane, to_lane, at, ping_pong)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?)",
            bc_rows,
        )
        con.executemany(
            "INSERT INTO delay (subject, instance_id, process_id, kind, task_id, element, name, lane, started_at,"
            " waited_seconds, threshold_seconds, threshold_source, still_open, detected_at)"
            " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            dl_rows,
        )
    con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    con.close()
    return {
        "seconds": time.perf_counter() - t0,
        "simulate_seconds": t_sim,
        "events": len(ev_rows),
        "instances": len(pi_rows),
        "human_tasks": len(ht_rows),
        "handoffs": len(ho_rows),
        "crossings": len(bc_rows),
        "delays": len(dl_rows),
        "db_mb": os.path.getsize(db_file) / 1e6,
    }


# --- 3. PM4Py's side -----------------------------------------------------------------------------------


def _q(series, p):
    import numpy as np

    return float(np.quantile(series.to_numpy(), p / 100, method="inverted_cdf")) if len(series) else None


def _stats(series, ps):
    out = {
        "count": int(len(series)),
        "mean": float(series.mean()) if len(series) else None,
        "total": float(series.sum()),
    }
    for p in ps:
        out[f"p{p}"] = _q(series, p)
    return out


def compute(df, with_handover_network: bool = True) -> tuple[dict, dict]:
    """The report's figures from an event log DataFrame in PM4Py's columns. Returns (figures, step times)."""
    import pandas as pd
    import pm4py

    steps = {}
    t = time.perf_counter()
    case, act, life, ts = "case:concept:name", "concept:name", "lifecycle:transition", "time:timestamp"
    # one row per activity instance: schedule / start / complete times
    ai = df.pivot_table(index=[case, "concept:instance"], columns=life, values=ts, aggfunc="min")
    attrs = df.groupby([case, "concept:instance"], sort=False).agg(
        activity=(act, "first"),
        lane=("org:group", "first"),
        etype=("element_type", "first"),
        resource=("org:resource", "last"),
        eid=("event_id", "max"),
    )
    ai = ai.join(attrs).reset_index()
    for col in ("schedule", "start", "complete"):
        if col not in ai:
            ai[col] = pd.NaT
    steps["activity_instances"] = time.perf_counter() - t

    t = time.perf_counter()
    bounds = df.groupby(case)[ts].agg(["min", "max"])
    done_cases = set(df.loc[(df[act] == LAST_ACTIVITY) & (df[life] == "complete"), case])
    bounds["done"] = bounds.index.isin(done_cases)
    cyc = (bounds["max"] - bounds["min"]).dt.total_seconds()[bounds["done"]]
    cycle = _stats(cyc, (50, 90, 99))
    weeks = (
        bounds.loc[bounds["done"], "max"]
        .dt.tz_localize(None)
        .dt.to_period("W-SUN")
        .value_counts()
        .sort_index()
    )
    throughput = [{"week_start": str(p.start_time.date()), "completed": int(n)} for p, n in weeks.items()]
    steps["cycle_throughput"] = time.perf_counter() - t

    t = time.perf_counter()
    human = ai[ai["etype"].isin(["userTask", "manualTask"]) & ai["complete"].notna()].copy()
    taken = human["start"].fillna(human["complete"])
    human["wait"] = (taken - human["schedule"]).dt.total_seconds()
    human["proc"] = (human["complete"] - taken).dt.total_seconds()
    human["done_case"] = human[case].isin(done_cases)
    cycle_total = cycle["total"]
    lanes = []
    for lane, g in human.groupby("lane"):
        lanes.append(
            {
                "lane": lane,
                "tasks_done": int(len(g)),
                "waiting": _stats(g["wait"], (50, 90)),
                "processing": _stats(g["proc"], (50, 90)),
                "waiting_share": float(g.loc[g["done_case"], "wait"].sum()) / cycle_total
                if cycle_total
                else None,
            }
        )
    flow = float(human.loc[human["done_case"], "proc"].sum()) / cycle_total if cycle_total else None
    bott = (
        human.groupby(["activity", "lane"])["wait"]
        .agg(["count", "sum", "mean", "max"])
        .sort_values("sum", ascending=False)
    )
    steps["lanes_bottlenecks"] = time.perf_counter() - t

    t = time.perf_counter()
    h = human.sort_values([case, "complete", "eid"])
    prev_same = h[case].eq(h[case].shift())
    pairs = pd.DataFrame(
        {
            "from_lane": h["lane"].shift(),
            "to_lane": h["lane"],
            "from_res": h["resource"].shift(),
            "to_res": h["resource"],
            "lat": (taken.loc[h.index] - h["complete"].shift()).dt.total_seconds(),
        }
    )[prev_same & h["resource"].ne(h["resource"].shift())]
    matrix = (
        pairs.groupby(["from_lane", "to_lane"])["lat"]
        .agg(count="count", latency_p50=lambda s: _q(s, 50), latency_mean="mean")
        .reset_index()
    )
    actor = (
        pairs.groupby(["from_res", "to_res"])["lat"]
        .agg(count="count", latency_p50=lambda s: _q(s, 50), latency_mean="mean")
        .reset_index()
    )
    slowest = actor.sort_values(["latency_p50", "latency_mean"], ascending=False).head(10)
    steps["handoff_matrix"] = time.perf_counter() - t
    how = None
    if with_handover_network:
        t = time.perf_counter()
        how = pm4py.discover_handover_of_work_network(
            df[(df[life] == "complete") & df["org:resource"].notna()]
        )
        steps["pm4py_handover_of_work_network"] = time.perf_counter() - t

    t = time.perf_counter()
    a = ai[ai["complete"].notna()].sort_values([case, "complete", "eid"])
    same = a[case].eq(a[case].shift())
    cross = same & a["lane"].ne(a["lane"].shift())
    c = pd.DataFrame(
        {case: a[case], "from_lane": a["lane"].shift(), "to_lane": a["lane"], "activity": a["activity"]}
    )[cross]
    c["prev_from"] = c.groupby(case)["from_lane"].shift()
    c["ping"] = c["to_lane"].eq(c["prev_from"])
    per_case = c.groupby(case).size().reindex(bounds.index, fill_value=0)
    by_lanes = c.groupby(["from_lane", "to_lane"])["ping"].agg(["count", "sum"]).reset_index()
    ping = c[c["ping"]].groupby("activity").size().sort_values(ascending=False)
    crossings = {
        "instances": int(len(per_case)),
        "total": int(per_case.sum()),
        "per_instance_mean": float(per_case.mean()),
        "per_instance_max": int(per_case.max()),
    }
    # Rework: human tasks executed again in a case (docs/report.md), like Handoff's task rows.
    rw = a[a["etype"].isin(["userTask", "manualTask"])].groupby([case, "activity"]).size()
    rework = (rw[rw > 1] - 1).groupby(level="activity").agg(["sum", "count"])
    steps["crossings_rework"] = time.perf_counter() - t

    t = time.perf_counter()
    now = df[ts].max()
    hu = ai[ai["etype"].isin(["userTask", "manualTask"])].copy()
    end = hu["start"].fillna(hu["complete"]).fillna(now)
    hu["wait"] = (end - hu["schedule"]).dt.total_seconds()
    hu["sla"] = hu["activity"].map(SLA_BY_NAME)
    br = hu[hu["wait"] > hu["sla"]]
    sla_lane = br.groupby("lane").agg(count=("wait", "size"), over=("wait", "sum"))
    sla_act = br.groupby(["activity", "lane"])["wait"].agg(["size", "max"])
    open_dur = (now - bounds["min"]).dt.total_seconds()
    all_cyc = (bounds["max"] - bounds["min"]).dt.total_seconds().where(bounds["done"], open_dur)
    cycle_breaches = int((all_cyc > CYCLE_SLA).sum())
    steps["sla"] = time.perf_counter() - t

    figures = {
        "cases": int(len(bounds)),
        "completed": int(bounds["done"].sum()),
        "cycle_time": cycle,
        "throughput_weeks": len(throughput),
        "flow_efficiency": flow,
        "lanes": lanes,
        "handoffs": int(len(pairs)),
        "handoff_matrix_cells": int(len(matrix)),
        "slowest_pair": slowest.head(1).to_dict("records"),
        "bottleneck_top": list(bott.index[0]),
        "handover_network_edges": None if how is None else len(getattr(how, "connections", {}) or {}),
        "crossings": crossings,
        "crossing_pairs": int(len(by_lanes)),
        "ping_pong": int(c["ping"].sum()),
        "ping_pong_activities": int(len(ping)),
        "rework": int(rework["sum"].sum()) if len(rework) else 0,
        "sla_task_waits": int(len(br)),
        "sla_lanes": int(len(sla_lane)),
        "sla_activities": int(len(sla_act)),
        "sla_cycle_times": cycle_breaches,
    }
    return figures, steps


def _rss_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(mode: str, path: str, handover: bool) -> None:
    os.environ["TQDM_DISABLE"] = "1"
    t0 = time.perf_counter()
    import pandas as pd
    import pm4py

    if mode == "xes":
        df = pm4py.read_xes(path)
        t_read = time.perf_counter() - t0
    else:
        raw = pd.read_csv(path, dtype={"case_id": str, "group": str, "resource": str})
        df = raw.rename(
            columns={
                "case_id": "case:concept:name",
                "activity": "concept:name",
                "lifecycle": "lifecycle:transition",
                "timestamp": "time:timestamp",
                "resource": "org:resource",
                "group": "org:group",
                "activity_instance": "concept:instance",
            }
        )
        df["time:timestamp"] = pd.to_datetime(df["time:timestamp"], utc=True, format="ISO8601")
        del raw
        t_read = time.perf_counter() - t0
    rss_loaded = _rss_mb()
    t1, c1 = time.perf_counter(), time.process_time()
    figures, steps = compute(df, handover)
    t_compute, c_compute = time.perf_counter() - t1, time.process_time() - c1
    print(
        json.dumps(
            {
                "events": int(len(df)),
                "read_seconds": t_read,
                "compute_seconds": t_compute,
                "compute_cpu_seconds": c_compute,
                "steps": steps,
                "rss_after_load_mb": rss_loaded,
                "figures": figures,
            }
        )
    )


# --- 2. the run ----------------------------------------------------------------------------------------


LAST_CPU = [0.0]


def run(cmd: list[str], stdout_path: str | None = None) -> tuple[float, float, str]:
    """Run a subprocess; wall seconds, its own peak RSS (MB, from wait4) and its stdout.

    Its CPU seconds (user + system, from the same wait4) are kept in LAST_CPU: on a machine that other
    jobs share, CPU time moves less than wall time, so the run prints ratios of both."""
    with open(stdout_path, "w+") if stdout_path else tempfile.TemporaryFile("w+") as out:
        t0 = time.perf_counter()
        # This checkout's code first, whatever `handoff` an editable install elsewhere put on the PATH.
        env = dict(
            os.environ, PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
        )
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        LAST_CPU[0] = usage.ru_utime + usage.ru_stime
        proc.returncode = os.waitstatus_to_exitcode(status)
        err = proc.stderr.read() if proc.stderr is not None else ""
        out.seek(0)
        text = out.read()
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({proc.returncode}):\n{err[-3000:]}")
    return wall, usage.ru_maxrss / 1024, text


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=42)
    ap.add_argument("--keep", metavar="DIR", help="Keep the database and exports in DIR.")
    ap.add_argument("--json", action="store_true", help="Machine-readable output.")
    ap.add_argument(
        "--no-handover-network",
        action="store_true",
        help="Leave pm4py.discover_handover_of_work_network out of PM4Py's compute.",
    )
    ap.add_argument("--child", choices=["xes", "csv", "gen"], help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    args = ap.parse_args()
    handover = not args.no_handover_network
    if args.child == "gen":  # in its own process: the parent stays small, so children fork small
        print(json.dumps(generate(f"sqlite:///{args.path}", args.path, args.events, args.seed)))
        return
    if args.child:
        child(args.child, args.path, handover)
        return

    say = (lambda *a: None) if args.json else (lambda *a: print(*a, flush=True))
    workdir = Path(args.keep or tempfile.mkdtemp(prefix="handoff-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    db_file = workdir / "history.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db_file}{suffix}").unlink(missing_ok=True)
    url = f"sqlite:///{db_file}"
    handoff = [sys.executable, "-m", "cli"]  # this checkout's CLI (cwd and PYTHONPATH are ROOT)
    try:
        say(f"generating ~{args.events:,} events into {db_file} ...")
        _, gen_rss, gen_out = run(
            [
                sys.executable,
                __file__,
                "--child",
                "gen",
                "--path",
                str(db_file),
                "--events",
                str(args.events),
                "--seed",
                str(args.seed),
            ]
        )
        gen = json.loads(gen_out.strip().splitlines()[-1]) | {"peak_rss_mb": gen_rss}
        say(
            f"  {gen['events']:,} events, {gen['instances']:,} instances, {gen['human_tasks']:,} tasks, "
            f"{gen['handoffs']:,} handoffs, {gen['crossings']:,} crossings, {gen['delays']:,} delays; "
            f"{gen['seconds']:.1f} s ({gen['events'] / gen['seconds']:,.0f} events/s), {gen['db_mb']:.0f} MB"
        )

        xes, csvf = workdir / "log.xes", workdir / "log.csv"
        exports = {}
        for fmt, path in (("xes", xes), ("csv", csvf)):
            wall, rss, _ = run(
                handoff + ["--db", url, "export", "--format", fmt, "--schedule", "--out", str(path)]
            )
            exports[fmt] = {"seconds": wall, "peak_rss_mb": rss, "mb": path.stat().st_size / 1e6}
            say(
                f"  export {fmt}: {wall:.1f} s, peak RSS {rss:.0f} MB, {exports[fmt]['mb']:.0f} MB file (not timed below)"
            )

        say("(a) handoff report --format json ...")
        rep_path = workdir / "report.json"
        h_wall, h_rss, _ = run(handoff + ["--db", url, "report", "--format", "json", "--out", str(rep_path)])
        h_cpu = LAST_CPU[0]
        report = json.loads(rep_path.read_text())
        say(f"    {h_wall:.2f} s, peak RSS {h_rss:.0f} MB")

        extra = [] if handover else ["--no-handover-network"]
        say("(b) PM4Py read_xes + compute ...")
        b_wall, b_rss, b_out = run([sys.executable, __file__, "--child", "xes", "--path", str(xes), *extra])
        b_cpu = LAST_CPU[0]
        b = json.loads(b_out.strip().splitlines()[-1])
        say(
            f"    {b_wall:.2f} s (read {b['read_seconds']:.2f} + compute {b['compute_seconds']:.2f}), peak RSS {b_rss:.0f} MB"
        )
        say("(c) PM4Py compute only (CSV loaded with pandas first, not timed) ...")
        c_wall, c_rss, c_out = run([sys.executable, __file__, "--child", "csv", "--path", str(csvf), *extra])
        c = json.loads(c_out.strip().splitlines()[-1])
        say(
            f"    compute {c['compute_seconds']:.2f} s (load {c['read_seconds']:.2f} s not counted), "
            f"peak RSS {c_rss:.0f} MB (after load {c['rss_after_load_mb']:.0f} MB)"
        )

        r_read = b_wall / h_wall
        r_comp = c["compute_seconds"] / h_wall
        r_read_cpu = b_cpu / h_cpu
        r_comp_cpu = c["compute_cpu_seconds"] / h_cpu
        f = b["figures"]
        check = {
            "instances": (report["instances"]["total"], f["cases"]),
            "completed": (report["instances"]["by_status"].get("completed", 0), f["completed"]),
            "cycle_p50": (report["cycle_time"]["p50"], f["cycle_time"]["p50"]),
            "cycle_p99": (report["cycle_time"]["p99"], f["cycle_time"]["p99"]),
            "handoffs": (sum(m["count"] for m in report["handoff_matrix"]), f["handoffs"]),
            "crossings": (report["crossings"]["total"], f["crossings"]["total"]),
            "ping_pong": (sum(p["count"] for p in report["crossings"]["ping_pong"]), f["ping_pong"]),
            "sla_task_waits": (report["delays"]["task_waits"], f["sla_task_waits"]),
            "rework": (sum(r["count"] for r in report["rework"]), f["rework"]),
            "flow_efficiency": (report["flow_efficiency"], f["flow_efficiency"]),
            "tasks_done": (
                sum(x["tasks_done"] for x in report["lanes"]),
                sum(x["tasks_done"] for x in f["lanes"]),
            ),
        }
        result = {
            "date": datetime.now(UTC).strftime("%Y-%m-%d"),
            "cpus": os.cpu_count(),
            "python": sys.version.split()[0],
            "generation": gen,
            "exports": exports,
            "handoff": {"seconds": h_wall, "cpu_seconds": h_cpu, "peak_rss_mb": h_rss},
            "pm4py_read_compute": {
                "seconds": b_wall,
                "cpu_seconds": b_cpu,
                "read_seconds": b["read_seconds"],
                "compute_seconds": b["compute_seconds"],
                "peak_rss_mb": b_rss,
                "steps": b["steps"],
            },
            "pm4py_compute_only": {
                "seconds": c["compute_seconds"],
                "cpu_seconds": c["compute_cpu_seconds"],
                "peak_rss_mb": c_rss,
                "rss_after_load_mb": c["rss_after_load_mb"],
                "steps": c["steps"],
            },
            "ratios": {
                "read_compute_over_handoff": r_read,
                "compute_only_over_handoff": r_comp,
                "read_compute_over_handoff_cpu": r_read_cpu,
                "compute_only_over_handoff_cpu": r_comp_cpu,
                "memory_handoff_over_pm4py_compute_only": h_rss / c_rss,
                "memory_handoff_over_pm4py_read_compute": h_rss / b_rss,
            },
            "targets": {
                "read_compute_10x": r_read >= 10,
                "compute_only_2x": r_comp >= 2,
                "lower_peak_memory": h_rss < min(b_rss, c_rss),
            },
            "handover_network_in_compute": handover,
            "check": {k: {"handoff": v[0], "pm4py": v[1]} for k, v in check.items()},
            "workdir": str(workdir) if args.keep else None,
        }
        if args.json:
            print(json.dumps(result, indent=2))
            return
        print()
        print(f"{'':28}{'time s':>10}{'CPU s':>8}{'peak RSS MB':>14}{'ratio (wall)':>14}{'ratio (CPU)':>13}")
        print(
            f"{'Handoff report (SQL)':28}{h_wall:>10.2f}{h_cpu:>8.2f}{h_rss:>14.0f}{'1.0x':>14}{'1.0x':>13}"
        )
        print(
            f"{'PM4Py read_xes + compute':28}{b_wall:>10.2f}{b_cpu:>8.2f}{b_rss:>14.0f}{r_read:>13.1f}x"
            f"{r_read_cpu:>12.1f}x"
        )
        print(
            f"{'PM4Py compute only':28}{c['compute_seconds']:>10.2f}{c['compute_cpu_seconds']:>8.2f}{c_rss:>14.0f}"
            f"{r_comp:>13.1f}x{r_comp_cpu:>12.1f}x"
        )
        print()
        print(
            "PM4Py compute steps (s), compute-only run:",
            ", ".join(f"{k} {v:.2f}" for k, v in c["steps"].items()),
        )
        t = result["targets"]
        print(
            f"targets: >=10x read+compute {'MET' if t['read_compute_10x'] else 'NOT MET'} ({r_read:.1f}x); "
            f">=2x compute-only {'MET' if t['compute_only_2x'] else 'NOT MET'} ({r_comp:.1f}x); "
            f"lower peak memory {'MET' if t['lower_peak_memory'] else 'NOT MET'} "
            f"({h_rss:.0f} vs {min(b_rss, c_rss):.0f} MB)"
        )
        print(
            "same figures both sides:",
            ", ".join(
                f"{k} {'=' if (a == b or (isinstance(a, float) and b is not None and abs(a - b) < 0.01)) else '!='} "
                f"({a} / {b})"
                for k, (a, b) in check.items()
            ),
        )
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
