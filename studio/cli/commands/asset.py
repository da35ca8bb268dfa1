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

    a = s.add_parser("add", help="import a portrait image or a speech recording, or "
                     "synthesise a speech track from a script (--script words.txt)")
    a.add_argument("file", nargs="?", default=None)
    a.add_argument("--script", default=None, metavar="TXT",
                   help="a text file: make a speech track from it (neural voice, editable "
                   "with 'asset script')")
    a.add_argument("--voice", default=None, help="with --script: the voice (see 'speak "
                   "--list-voices'; default: the bundled neural voice)")
    a.add_argument("--rate", type=float, default=1.0, help="with --script: speaking rate "
                   "0.5..2 (default 1)")
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

    sc = s.add_parser("script", help="show, edit or undo the script of a script track; "
                      "only changed sentences are synthesised and re-rendered")
    sc.add_argument("id", help="the audio track id")
    g = sc.add_mutually_exclusive_group()
    g.add_argument("--text-file", default=None, metavar="TXT", help="the edited script")
    g.add_argument("--undo", action="store_true", help="restore the previous script")
    add_project_arg(sc)
    sc.set_defaults(func=_script)

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


def _read_script(file: str) -> str:
    from core.tts import MAX_TEXT_CHARS
    from studio.cli.commands.speak import _read_text

    return _read_text(Path(file), MAX_TEXT_CHARS)


def _add_script(args) -> int:
    if args.file is not None:
        raise InputError(Path(args.file), "give either a file to import or --script TXT")
    text = _read_script(args.script)
    with open_project(args) as project:
        info = project.add_script(text, voice=args.voice, rate=args.rate, name=args.name)
        script = project.script(info.id)
        print(f"audio {info.id} '{info.name}' ({info.duration:.2f}s, "
              f"{len(script.sentences)} sentences, voice {script.voice}) from the script "
              f"sha256 {info.sha256[:12]}")
    return 0


def _script(args) -> int:
    ident = int_arg(args.id, "audio id")
    text = None if args.text_file is None else _read_script(args.text_file)
    with open_project(args) as project:
        if text is None and not args.undo:
            info = project.script(ident)
            for i, sent in enumerate(info.sentences):
                print(f"{i + 1:3d}  {sent.start:7.2f}-{sent.end:7.2f}s  {sent.text}")
            print(f"voice {info.voice}, rate {info.rate:g}, {info.undo_depth} edit(s) to undo")
            return 0
        edit = project.undo_script(ident) if args.undo else project.edit_script(ident, text)
        what = "restored the previous script" if args.undo else (
            f"re-synthesised {len(edit.changed)} sentence(s)")
        print(f"audio {ident}: {what}; now {edit.audio.duration:.2f}s "
              f"(shifted {edit.shift_s:+.2f}s after the edit)")
        for tid in sorted(edit.stale):
            print(f"timeline {tid}: {len(edit.stale[tid])} segment(s) to render, "
                  f"{len(edit.kept[tid])} kept their render")
    return 0


def _add(args) -> int:
    if args.script is not None:
        return _add_script(args)
    if args.file is None:
        raise InputError(None, "give a file to import, or --script TXT")
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
            tr = " script" if project.has_script(a.id) else (
                " transcript" if a.transcript else "")
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
