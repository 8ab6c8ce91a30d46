"""``sathach calibrate``: calibrate items from a response file and write RESULT.json."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import click
from tqdm import tqdm

from calibration import ConvergenceWarning, ItemModel, Priors, StandardErrorWarning, calibrate
from item_bank.calibration_files import read_fixed_items, write_result
from item_bank.response_files import read_responses

MODEL_NAMES = tuple(m.value for m in ItemModel)


class CalibrationInputError(click.ClickException):
    """Bad input: shown as one Vietnamese-first line, exit status 1."""

    def show(self, file=None) -> None:
        click.echo(f"Lỗi (error): {self.format_message()}", err=True)


def _model(_ctx: click.Context, _param: click.Parameter, value: str) -> str:
    name = value.strip().lower()
    if name not in MODEL_NAMES:
        raise click.BadParameter(
            f'mô hình "{value}" không được hỗ trợ; chọn một trong {", ".join(MODEL_NAMES)} '
            f"(unknown model {value!r}; choose one of {', '.join(MODEL_NAMES)})"
        )
    return name


@click.command("calibrate")
@click.argument("data", type=click.Path(path_type=Path, dir_okay=False))
@click.option(
    "--model",
    default="2pl",
    show_default=True,
    callback=_model,
    help=f"Mô hình IRT / item model: {', '.join(MODEL_NAMES)}.",
)
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="Tệp kết quả / output RESULT.json.",
)
@click.option(
    "--format",
    "file_format",
    type=click.Choice(["wide", "long"]),
    default="wide",
    show_default=True,
    help="Dạng tệp: rộng (một dòng một người) hoặc dài (person_id,item_id,score).",
)
@click.option(
    "--count-column",
    default=None,
    help="Cột số người của mỗi mẫu trả lời (bảng mẫu) / pattern-count column.",
)
@click.option(
    "--fixed",
    "fixed_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Tham số cố định (RESULT.json trước đó) làm mỏ neo / anchor items.",
)
@click.option(
    "--seed",
    type=int,
    default=None,
    help="Hạt giống ngẫu nhiên / random seed. EM here is deterministic, so results do not "
    "depend on it.",
)
@click.option(
    "--max-iter",
    type=click.IntRange(min=1),
    default=2000,
    show_default=True,
    help="Số vòng EM tối đa / EM iteration cap.",
)
@click.option(
    "--tol",
    type=click.FloatRange(min=0, min_open=True),
    default=1e-4,
    show_default=True,
    help="Ngưỡng hội tụ / largest parameter change to stop at.",
)
@click.option(
    "--no-priors", is_flag=True, help="Tắt phân phối tiên nghiệm (3PL) / plain maximum likelihood."
)
def cli(
    data: Path,
    model: str,
    out_path: Path,
    file_format: str,
    count_column: str | None,
    fixed_path: Path | None,
    seed: int | None,
    max_iter: int,
    tol: float,
    no_priors: bool,
) -> None:
    """Hiệu chỉnh tham số câu hỏi (MML-EM) từ tệp trả lời DATA.csv.

    Calibrate item parameters by marginal maximum likelihood (EM) from the response file
    DATA.csv and write them, with standard errors and fit, to RESULT.json.
    """
    del seed  # accepted for scripts that pass one to every command; nothing here is random
    try:
        table = read_responses(data, file_format=file_format, count_column=count_column)
        fixed = read_fixed_items(fixed_path) if fixed_path is not None else None
    except ValueError as exc:
        raise CalibrationInputError(str(exc)) from None

    bar = tqdm(
        total=max_iter, desc="EM", unit=" vòng", file=sys.stderr, leave=False, dynamic_ncols=True
    )

    def progress(iteration: int, log_likelihood: float) -> None:
        bar.update(iteration - bar.n)
        bar.set_postfix_str(f"log-likelihood {log_likelihood:,.3f}")

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConvergenceWarning)
        warnings.simplefilter("always", StandardErrorWarning)
        try:
            result = calibrate(
                table.data,
                model,
                priors=Priors.none() if no_priors else None,
                fixed=fixed,
                tol=tol,
                max_iter=max_iter,
                progress=progress,
            )
        except ValueError as exc:
            raise CalibrationInputError(f"{data.name}: {exc}") from None
        finally:
            bar.close()
    write_result(result, out_path, model=model)

    click.echo(
        f"Đã hiệu chỉnh {result.n_items} câu hỏi, {result.n_persons:g} người "
        f"(calibrated {result.n_items} items, {result.n_persons:g} persons), mô hình {model}"
    )
    click.echo(
        f"log-likelihood {result.log_likelihood:.3f}   AIC {result.aic():.3f}   "
        f"BIC {result.bic():.3f}   vòng lặp (iterations) {result.n_iter}"
    )
    if fixed is not None:
        click.echo(
            f"Phân phối năng lực (latent): trung bình (mean) {result.latent_mean:.3f}, "
            f"độ lệch chuẩn (sd) {result.latent_sd:.3f}; {int(result.fixed.sum())} câu neo "
            "(anchors)"
        )
    for excluded in result.excluded:
        click.echo(f"Bỏ qua (excluded) {excluded.item_id}: {excluded.reason}")
    for warning in caught:
        if issubclass(warning.category, ConvergenceWarning):
            click.echo(
                f"Cảnh báo: chưa hội tụ sau {result.n_iter} vòng "
                f"(warning: not converged): {warning.message}",
                err=True,
            )
        elif issubclass(warning.category, StandardErrorWarning):
            click.echo(f"Cảnh báo (warning): {warning.message}", err=True)
    click.echo(f"Đã ghi (written): {out_path}")
