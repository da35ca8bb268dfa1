"""`jobs list|cancel|retry`: the render queue."""

from __future__ import annotations

import time

from studio.cli.common import add_project_arg, int_arg, open_project


def register(sub) -> None:
    p = sub.add_parser("jobs", help="list, cancel and retry render jobs")
    s = p.add_subparsers(dest="jobs_cmd", metavar="ACTION", required=True)
    ls = s.add_parser("list", help="list jobs (newest first)")
    ls.add_argument("--state", default=None,
                    help="only jobs in this state (queued, running, done, failed, cancelled, "
                    "interrupted)")
    add_project_arg(ls)
    ls.set_defaults(func=_list)
    c = s.add_parser("cancel", help="cancel a queued or running job")
    c.add_argument("id")
    add_project_arg(c)
    c.set_defaults(func=_cancel)
    r = s.add_parser("retry", help="re-queue a failed, cancelled or interrupted job")
    r.add_argument("id")
    add_project_arg(r)
    r.set_defaults(func=_retry)


def describe(j) -> str:
    when = time.strftime("%H:%M:%S", time.localtime(j.created)) if j.created else "--"
    text = f"job {j.id:5d} {j.state:11s} segment {j.segment_id} {j.progress * 100:5.1f}% {when}"
    if j.message:
        text += f"  {j.message}"
    if j.error:
        text += f"  error: {j.error}"
    return text


def _list(args) -> int:
    with open_project(args) as project:
        states = (args.state,) if args.state else None
        jobs = project.jobs(states)
        for j in jobs:
            print(describe(j))
        if not jobs:
            print("no jobs")
    return 0


def _cancel(args) -> int:
    with open_project(args) as project:
        j = project.cancel_job(int_arg(args.id, "job id"))
        print(("cancelled " if j.state == "cancelled" else "asked to stop ") + describe(j))
    return 0


def _retry(args) -> int:
    with open_project(args) as project:
        j = project.retry_job(int_arg(args.id, "job id"))
        print(f"re-queued {describe(j)}; run 'render' to process the queue")
    return 0
