"""`project new|info|list`: create, describe and list projects."""

from __future__ import annotations

from studio.cli.common import add_project_arg, open_project


def register(sub) -> None:
    p = sub.add_parser("project", help="create, describe and list projects")
    s = p.add_subparsers(dest="project_cmd", metavar="ACTION", required=True)

    n = s.add_parser("new", help="create a project (a bare name goes into the projects folder)")
    n.add_argument("where", metavar="NAME_OR_PATH")
    n.add_argument("--name", default=None, help="display name (default: the folder name)")
    n.set_defaults(func=_new)

    i = s.add_parser("info", help="summary of a project")
    add_project_arg(i)
    i.set_defaults(func=_info)

    ls = s.add_parser("list", help="projects in the projects folder")
    ls.set_defaults(func=_list)


def _new(args) -> int:
    from studio.paths import new_project_folder
    from studio.project import Project

    folder = new_project_folder(args.where)
    with Project.create(folder, name=args.name) as project:
        print(f"created project '{project.name}' at {project.path}")
    return 0


def _info(args) -> int:
    with open_project(args) as project:
        print(f"project   {project.name}")
        print(f"folder    {project.path}")
        print(f"portraits {len(project.portraits())}")
        print(f"audio     {len(project.audio_tracks())}")
        print(f"presets   {len(project.presets())}")
        for tl in project.timelines():
            segs = project.segments(tl.id)
            done = sum(s.state == "rendered" for s in segs)
            print(f"timeline  {tl.id}: {tl.name} ({tl.engine}, {tl.size}px, {tl.fps} fps, "
                  f"{tl.duration:.1f}s, {done}/{len(segs)} segments rendered)")
        active = project.jobs(("queued", "running", "interrupted"))
        if active:
            print(f"jobs      {len(active)} queued/running/interrupted")
    return 0


def _list(args) -> int:
    from studio.paths import list_projects, projects_dir
    from studio.project import Project

    found = list_projects()
    if not found:
        print(f"no projects in {projects_dir()}")
        return 0
    for folder in found:
        try:
            with Project.open(folder) as project:
                print(f"{folder.name:30s} {project.name:30s} {len(project.timelines())} "
                      "timeline(s)")
        except Exception as exc:  # a broken project must not hide the others
            print(f"{folder.name:30s} (cannot open: {exc})")
    return 0
