"""`asset add|list|remove`: import portraits and audio into the project."""

from __future__ import annotations

from pathlib import Path

from core.errors import InputError
from studio.cli.common import add_project_arg, int_arg, open_project, read_transcript

IMAGE_EXTS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"}
AUDIO_EXTS = {".wav", ".mp3", ".flac", ".ogg", ".oga", ".opus", ".m4a", ".aac", ".wma",
              ".aif", ".aiff", ".mp4", ".mov", ".mkv", ".webm"}


def register(sub) -> None:
    p = sub.add_parser("asset", help="import, list and remove portraits and audio")
    s = p.add_subparsers(dest="asset_cmd", metavar="ACTION", required=True)

    a = s.add_parser("add", help="import a portrait image or a speech recording")
    a.add_argument("file")
    a.add_argument("--kind", choices=("portrait", "audio"), default=None,
                   help="default: from the file extension")
    a.add_argument("--name", default=None)
    a.add_argument("--landmarks", default=None, metavar="JSON",
                   help="portrait: user landmarks (68 or 5 points) for faces the detector misses")
    a.add_argument("--transcript", default=None, help="audio: the spoken words")
    a.add_argument("--transcript-file", default=None, metavar="TXT")
    add_project_arg(a)
    a.set_defaults(func=_add)

    ls = s.add_parser("list", help="list assets")
    add_project_arg(ls)
    ls.set_defaults(func=_list)

    r = s.add_parser("remove", help="remove an asset not used by a timeline")
    r.add_argument("kind", choices=("portrait", "audio"))
    r.add_argument("id")
    add_project_arg(r)
    r.set_defaults(func=_remove)


def _kind(path: Path, kind: str | None) -> str:
    if kind:
        return kind
    ext = path.suffix.lower()
    if ext in IMAGE_EXTS:
        return "portrait"
    if ext in AUDIO_EXTS:
        return "audio"
    raise InputError(path, "unknown file type; pass --kind portrait or --kind audio")


def _add(args) -> int:
    path = Path(args.file)
    kind = _kind(path, args.kind)
    transcript = read_transcript(args.transcript, args.transcript_file)
    if kind == "portrait" and transcript:
        raise InputError(path, "--transcript is for audio files")
    if kind == "audio" and args.landmarks:
        raise InputError(path, "--landmarks is for portraits")
    with open_project(args) as project:
        before = {a.id for a in (project.portraits() if kind == "portrait"
                                 else project.audio_tracks())}
        if kind == "portrait":
            info = project.add_portrait(path, name=args.name, landmarks=args.landmarks)
            what = f"portrait {info.id} '{info.name}' ({info.width}x{info.height})"
        else:
            info = project.add_audio(path, name=args.name, transcript=transcript)
            what = f"audio {info.id} '{info.name}' ({info.duration:.2f}s)"
        verb = "already imported:" if info.id in before else "imported"
        print(f"{verb} {what} sha256 {info.sha256[:12]}")
    return 0


def _list(args) -> int:
    with open_project(args) as project:
        ps, aus = project.portraits(), project.audio_tracks()
        for p in ps:
            lm = " user-landmarks" if p.has_landmarks else ""
            print(f"portrait {p.id:4d}  {p.name:30s} {p.width}x{p.height}{lm}")
        for a in aus:
            tr = " transcript" if a.transcript else ""
            print(f"audio    {a.id:4d}  {a.name:30s} {a.duration:7.2f}s{tr}")
        if not ps and not aus:
            print("no assets; import some with 'asset add FILE'")
    return 0


def _remove(args) -> int:
    ident = int_arg(args.id, f"{args.kind} id")
    with open_project(args) as project:
        if args.kind == "portrait":
            info = project.portrait(ident)
            project.remove_portrait(ident)
        else:
            info = project.audio(ident)
            project.remove_audio(ident)
        print(f"removed {args.kind} {ident} '{info.name}'")
    return 0
