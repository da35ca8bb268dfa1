"""`preset add|edit|list|remove`: named edit presets (prompt + expression controls)."""

from __future__ import annotations

from dataclasses import replace

from core.errors import InputError
from core.types import EMOTIONS, EXPRESSION_RANGES, Expression
from studio.cli.common import add_project_arg, open_project


def _fields(p) -> None:
    p.add_argument("--prompt", default=None)
    p.add_argument("--negative-prompt", default=None)
    p.add_argument("--strength", type=float, default=None, help="0..1")
    p.add_argument("--smile", type=float, default=None, help="-1..1")
    p.add_argument("--brows", type=float, default=None, help="-1..1")
    p.add_argument("--head-motion", type=float, default=None, help="0..2 (1 = natural)")
    p.add_argument("--blink-rate", type=float, default=None, help="0..3 (1 = natural)")
    p.add_argument("--emotion", default=None,
                   help="emotion: " + ", ".join(EMOTIONS) + " (default neutral: the "
                   "prompt's emotion words decide)")
    for name in ("intensity", "expressiveness", "gaze"):
        r = EXPRESSION_RANGES[name]
        p.add_argument(f"--{name}", type=float, default=None,
                       help=f"{r.label}, {r.min:g}-{r.max:g} (default {r.default:g})")


def register(sub) -> None:
    p = sub.add_parser("preset", help="edit presets: prompt and expression controls")
    s = p.add_subparsers(dest="preset_cmd", metavar="ACTION", required=True)

    a = s.add_parser("add", help="create a preset")
    a.add_argument("name")
    _fields(a)
    add_project_arg(a)
    a.set_defaults(func=_add)

    e = s.add_parser("edit", help="change a preset")
    e.add_argument("preset", metavar="NAME_OR_ID")
    e.add_argument("--rename", default=None)
    _fields(e)
    add_project_arg(e)
    e.set_defaults(func=_edit)

    ls = s.add_parser("list", help="list presets")
    add_project_arg(ls)
    ls.set_defaults(func=_list)

    r = s.add_parser("remove", help="delete a preset")
    r.add_argument("preset", metavar="NAME_OR_ID")
    add_project_arg(r)
    r.set_defaults(func=_remove)


def describe(p) -> str:
    e = p.expression
    text = f" prompt='{p.prompt}'" if p.prompt else ""
    if p.negative_prompt:
        text += f" negative='{p.negative_prompt}'"
    return (f"{p.id:4d}  {p.name:20s} smile={e.smile:+.2f} brows={e.brows:+.2f} "
            f"head_motion={e.head_motion:.2f} blink_rate={e.blink_rate:.2f} "
            f"emotion={e.emotion} intensity={e.intensity:.2f} "
            f"expressiveness={e.expressiveness:.2f} gaze={e.gaze:.2f} "
            f"strength={p.strength:.2f}{text}")


def _expr(args, base: Expression) -> Expression:
    # imported here: studio.presets pulls in SQLAlchemy (~0.3 s), which every other
    # command (a one-shot render) would otherwise pay for when the parser is built
    from studio.presets import EXPRESSION_FIELDS

    changes = {k: getattr(args, k) for k in EXPRESSION_FIELDS if getattr(args, k) is not None}
    if "emotion" in changes:
        changes["emotion"] = str(changes["emotion"]).strip().lower()
        if changes["emotion"] not in EMOTIONS:
            raise InputError(None, f"--emotion must be one of {', '.join(EMOTIONS)}, got "
                             f"'{args.emotion}'")
    return replace(base, **changes)


def _add(args) -> int:
    with open_project(args) as project:
        p = project.add_preset(
            args.name, prompt=args.prompt or "", negative_prompt=args.negative_prompt or "",
            strength=1.0 if args.strength is None else args.strength,
            expression=_expr(args, Expression()))
        print(f"added preset {describe(p)}")
    return 0


def _edit(args) -> int:
    with open_project(args) as project:
        p = project.find_preset(args.preset)
        fields: dict = {"expression": _expr(args, p.expression)}
        if args.prompt is not None:
            fields["prompt"] = args.prompt
        if args.negative_prompt is not None:
            fields["negative_prompt"] = args.negative_prompt
        if args.strength is not None:
            fields["strength"] = args.strength
        if args.rename:
            fields["name"] = args.rename
        p = project.update_preset(p.id, **fields)
        print(f"updated preset {describe(p)}")
    return 0


def _list(args) -> int:
    with open_project(args) as project:
        ps = project.presets()
        for p in ps:
            print(describe(p))
        if not ps:
            print("no presets; add one with 'preset add NAME --smile 0.5'")
    return 0


def _remove(args) -> int:
    with open_project(args) as project:
        p = project.find_preset(args.preset)
        project.remove_preset(p.id)
        print(f"removed preset {p.id} '{p.name}'")
    return 0
