"""`bundle export|import`: a project as one .zip, and back."""

from __future__ import annotations

from studio.cli.common import add_project_arg, open_project


def register(sub) -> None:
    p = sub.add_parser("bundle", help="export/import a project as a .zip")
    s = p.add_subparsers(dest="bundle_cmd", metavar="ACTION", required=True)
    e = s.add_parser("export", help="zip the project")
    e.add_argument("zip", metavar="ZIP")
    add_project_arg(e)
    e.set_defaults(func=_export)
    i = s.add_parser("import", help="unpack a bundle into a new project folder")
    i.add_argument("zip", metavar="ZIP")
    i.add_argument("dest", metavar="NAME_OR_PATH")
    i.set_defaults(func=_import)


def _export(args) -> int:
    from studio.bundle import export_bundle

    with open_project(args) as project:
        out = export_bundle(project, args.zip)
        print(f"exported project '{project.name}' to {out} ({out.stat().st_size} bytes)")
    return 0


def _import(args) -> int:
    from studio.bundle import import_bundle
    from studio.paths import new_project_folder
    from studio.project import Project

    dest = import_bundle(args.zip, new_project_folder(args.dest))
    with Project.open(dest) as project:
        print(f"imported project '{project.name}' into {dest}")
    return 0
