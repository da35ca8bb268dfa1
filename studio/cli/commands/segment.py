"""`segment split|merge|move|set`: edit a timeline's segments."""

from __future__ import annotations

from core.types import Expression
from studio.cli.common import add_project_arg, int_arg, open_project, optional_int
from studio.records import UNCHANGED


def register(sub) -> None:
    p = sub.add_parser("segment", help="split, merge, move boundaries, set overrides")
    s = p.add_subparsers(dest="segment_cmd", metavar="ACTION", required=True)

    sp = s.add_parser("split", help="split a segment at a frame")
    sp.add_argument("segment", metavar="SEGMENT_ID")
    sp.add_argument("frame", metavar="FRAME")
    add_project_arg(sp)
    sp.set_defaults(func=_split)

    m = s.add_parser("merge", help="merge two neighbouring segments")
    m.add_argument("first", metavar="SEGMENT_ID")
    m.add_argument("second", metavar="SEGMENT_ID")
    add_project_arg(m)
    m.set_defaults(func=_merge)

    mv = s.add_parser("move", help="move the end of a segment (its boundary with the next)")
    mv.add_argument("segment", metavar="SEGMENT_ID")
    mv.add_argument("end", metavar="NEW_END_FRAME")
    add_project_arg(mv)
    mv.set_defaults(func=_move)

    st = s.add_parser("set", help="set per-segment overrides ('none' clears)")
    st.add_argument("segment", metavar="SEGMENT_ID")
    st.add_argument("--preset", default=None, metavar="NAME_OR_ID|none")
    st.add_argument("--seed", default=None, metavar="N|none")
    st.add_argument("--smile", type=float, default=None)
    st.add_argument("--brows", type=float, default=None)
    st.add_argument("--head-motion", type=float, default=None)
    st.add_argument("--blink-rate", type=float, default=None)
    st.add_argument("--clear-expression", action="store_true")
    add_project_arg(st)
    st.set_defaults(func=_set)


def _describe(s) -> str:
    return f"segment {s.id} frames {s.start}-{s.end} ({s.state})"


def _split(args) -> int:
    with open_project(args) as project:
        a, b = project.split_segment(int_arg(args.segment, "segment id"),
                                     int_arg(args.frame, "frame"))
        print(f"split into {_describe(a)} and {_describe(b)}")
    return 0


def _merge(args) -> int:
    with open_project(args) as project:
        m = project.merge_segments(int_arg(args.first, "segment id"),
                                   int_arg(args.second, "segment id"))
        print(f"merged into {_describe(m)}")
    return 0


def _move(args) -> int:
    with open_project(args) as project:
        a, b = project.move_boundary(int_arg(args.segment, "segment id"),
                                     int_arg(args.end, "frame"))
        print(f"moved boundary: {_describe(a)}, {_describe(b)}")
    return 0


def _set(args) -> int:
    sid = int_arg(args.segment, "segment id")
    with open_project(args) as project:
        seg = project.segment(sid)
        kw: dict = {}
        if args.preset is not None:
            kw["preset_id"] = (None if args.preset.strip().lower() in ("none", "")
                               else project.find_preset(args.preset).id)
        if args.seed is not None:
            kw["seed"] = optional_int(args.seed, "seed")
        fields = {k: getattr(args, k) for k in ("smile", "brows", "head_motion", "blink_rate")
                  if getattr(args, k) is not None}
        if args.clear_expression:
            kw["expression"] = None
        elif fields:
            base = seg.overrides.expression or Expression()
            kw["expression"] = Expression(**{**base.__dict__, **fields})
        if not kw:
            print(f"nothing to change for {_describe(seg)} (give --preset, --seed or "
                  "expression options)")
            return 0
        s = project.set_segment_overrides(sid, **{k: kw.get(k, UNCHANGED) for k in
                                                  ("preset_id", "seed", "expression")})
        o = s.overrides
        print(f"set overrides of {_describe(s)}: preset={o.preset_id} seed={o.seed} "
              f"expression={o.expression}")
    return 0
