"""`cleanbot db upgrade`, `cleanbot demo load` and `cleanbot photos prune`: the database's schema and
contents."""
from __future__ import annotations

from bot.cli.common import emit, fail
from bot.settings import get_settings


def cmd_db_upgrade(args) -> int:
    from bot.migrate import upgrade

    upgrade()
    print(f"데이터베이스를 최신 스키마로 맞췄어요: {_safe_url(get_settings().database_url)}")
    return 0


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def cmd_demo_load(args) -> int:
    from bot import demo

    if get_settings().is_production:
        return fail("production 모드에서는 데모 데이터를 불러올 수 없어요. 데모를 보려면 CLEANBOT_MODE=demo로 실행해 주세요.", 2)
    if args.if_empty and not demo.is_empty():
        print("데이터베이스에 이미 데이터가 있어서 데모 데이터를 건너뛰었어요.")
        return 0
    added = demo.load()
    emit(args, added, lambda a: "데모 데이터를 불러왔어요: " + ", ".join(f"{k} {v}" for k, v in a.items()))
    return 0


def cmd_photos_prune(args) -> int:
    from bot.services import photo_pruning

    if args.older_than_hours is not None and args.older_than_hours < 0:
        return fail("--older-than-hours는 0 이상이어야 해요. 예: --older-than-hours 24", 2)
    emit(args, photo_pruning.prune_orphan_photos(args.older_than_hours), photo_pruning.prune_text_ko)
    return 0


def register(sub, add) -> None:
    """Adds `db` and `demo` to cleanbot's sub-commands (`add` is bot.cli.common.add)."""
    db = sub.add_parser("db", help="데이터베이스").add_subparsers(dest="db_command", required=True)
    add(db, "upgrade", cmd_db_upgrade, "스키마를 최신으로 (Alembic)", json_flag=False)

    demo = sub.add_parser("demo", help="데모 데이터").add_subparsers(dest="demo_command", required=True)
    p = add(demo, "load", cmd_demo_load, "데모 데이터 불러오기 (여러 번 해도 안전)")
    p.add_argument("--if-empty", action="store_true", help="데이터베이스가 비어 있을 때만")


def register_photos(sub, add) -> None:
    """Adds `photos prune`."""
    photos = sub.add_parser("photos", help="사진").add_subparsers(dest="photos_command", required=True)
    p = add(photos, "prune", cmd_photos_prune, "신고·케이스·상담에 쓰이지 않는 오래된 사진 지우기")
    p.add_argument("--older-than-hours", type=float, default=None,
                   help="이보다 오래된 사진만 (기본: CLEANBOT_PHOTO_ORPHAN_HOURS, 24시간)")
