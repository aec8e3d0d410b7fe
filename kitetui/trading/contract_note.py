"""Our charges shaped as Kite's virtual contract note, Kite's note parsed, and the two compared.

Kite's ``POST /charges/orders`` (``KiteConnect.get_virtual_contract_note``) takes a day's
executed orders (``order_id, exchange, tradingsymbol, transaction_type, variety, product,
order_type, quantity, average_price``) and answers, per order, a ``charges`` object:
``transaction_tax`` (+ ``transaction_tax_type`` "stt"/"ctt"), ``exchange_turnover_charge``
(the exchange's transaction charge WITH NSE's IPFT levy in it), ``sebi_turnover_charge``,
``brokerage``, ``stamp_duty``, ``gst{igst, cgst, sgst, total}`` and ``total`` — unrounded
floats. In live mode the desk can ask Kite for that note and hold it against its own
figures: ``contract_note`` builds ours from journaled fills, ``parse_kite_contract_note``
reads Kite's answer into the same ``ContractNote`` shape (exact ``Decimal`` from the float
text), and ``compare_notes`` lists every figure that differs by more than a tolerance.

Lines are matched by position, as Kite answers in request order; a line whose symbol,
side, exchange or quantity differs is reported as one ``identity`` difference and its
figures are not compared.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Context, Decimal, localcontext
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from kitetui.domain import Fill
from kitetui.trading.charges import EXACT, ZERO, ChargeCalculator, Charges, OrderSpec

__all__ = [
    "ContractNote",
    "ContractNoteError",
    "NoteCharges",
    "NoteDifference",
    "NoteLine",
    "NoteOrder",
    "compare_notes",
    "contract_note",
    "parse_kite_contract_note",
]

GstSplit = Literal["igst", "cgst_sgst"]
# Below a millionth of a paisa, above the float noise in Kite's figures for any real
# order (a float holds ~16 significant digits; Kite's charges stay under ₹10 lakh).
DEFAULT_TOLERANCE = Decimal("0.00000001")
_AVERAGE = Context(prec=28)  # an average price is informative; it may not terminate
_AMOUNT_FIELDS = (
    "transaction_tax",
    "exchange_turnover_charge",
    "sebi_turnover_charge",
    "brokerage",
    "stamp_duty",
    "gst_total",
    "total",
)


class ContractNoteError(Exception):
    """Kite's contract note response could not be read; the message says where and why."""


@dataclass(frozen=True, slots=True)
class NoteCharges:
    """Kite's per-order ``charges`` object with exact ``Decimal`` amounts."""

    transaction_tax: Decimal
    transaction_tax_type: str
    exchange_turnover_charge: Decimal
    sebi_turnover_charge: Decimal
    brokerage: Decimal
    stamp_duty: Decimal
    gst_igst: Decimal
    gst_cgst: Decimal
    gst_sgst: Decimal
    gst_total: Decimal
    total: Decimal

    @classmethod
    def from_charges(
        cls,
        charges: Charges,
        tax_type: str,
        gst_split: GstSplit = "igst",
        include_ipft: bool = True,
    ) -> NoteCharges:
        """Ours in Kite's shape. ``include_ipft=False`` gives the margins endpoints' shape
        (Kite's July-2023 basket-margin mock leaves IPFT out); ``gst_split`` is IGST for a
        client outside Zerodha's state (Karnataka), CGST + SGST halves inside it."""
        exchange = charges.exchange_turnover if include_ipft else charges.exchange
        with localcontext(EXACT):
            total = charges.total if include_ipft else charges.total - charges.ipft
            half = charges.gst / 2  # exact: a terminating decimal halves exactly
        return cls(
            transaction_tax=charges.stt,
            transaction_tax_type=tax_type,
            exchange_turnover_charge=exchange,
            sebi_turnover_charge=charges.sebi,
            brokerage=charges.brokerage,
            stamp_duty=charges.stamp,
            gst_igst=charges.gst if gst_split == "igst" else ZERO,
            gst_cgst=half if gst_split == "cgst_sgst" else ZERO,
            gst_sgst=half if gst_split == "cgst_sgst" else ZERO,
            gst_total=charges.gst,
            total=total,
        )

    def to_kite(self) -> dict[str, Any]:
        """The JSON object Kite returns (floats, Kite's key names)."""
        return {
            "transaction_tax": float(self.transaction_tax),
            "transaction_tax_type": self.transaction_tax_type,
            "exchange_turnover_charge": float(self.exchange_turnover_charge),
            "sebi_turnover_charge": float(self.sebi_turnover_charge),
            "brokerage": float(self.brokerage),
            "stamp_duty": float(self.stamp_duty),
            "gst": {
                "igst": float(self.gst_igst),
                "cgst": float(self.gst_cgst),
                "sgst": float(self.gst_sgst),
                "total": float(self.gst_total),
            },
            "total": float(self.total),
        }

    def __add__(self, other: NoteCharges) -> NoteCharges:
        kind = self.transaction_tax_type
        with localcontext(EXACT):
            return self._plus(other, kind if kind == other.transaction_tax_type else "")

    def _plus(self, other: NoteCharges, kind: str) -> NoteCharges:
        return NoteCharges(
            transaction_tax=self.transaction_tax + other.transaction_tax,
            transaction_tax_type=kind,
            exchange_turnover_charge=self.exchange_turnover_charge + other.exchange_turnover_charge,
            sebi_turnover_charge=self.sebi_turnover_charge + other.sebi_turnover_charge,
            brokerage=self.brokerage + other.brokerage,
            stamp_duty=self.stamp_duty + other.stamp_duty,
            gst_igst=self.gst_igst + other.gst_igst,
            gst_cgst=self.gst_cgst + other.gst_cgst,
            gst_sgst=self.gst_sgst + other.gst_sgst,
            gst_total=self.gst_total + other.gst_total,
            total=self.total + other.total,
        )


_EMPTY = NoteCharges(ZERO, "", ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO, ZERO)


@dataclass(frozen=True, slots=True)
class NoteLine:
    """One order on a contract note: Kite's echo of the order, and its charges."""

    transaction_type: str
    tradingsymbol: str
    exchange: str
    variety: str
    product: str
    order_type: str
    quantity: int
    price: Decimal  # the order's average price
    charges: NoteCharges
    order_id: str = ""

    @property
    def label(self) -> str:
        return f"{self.tradingsymbol} {self.transaction_type}"

    def to_kite(self) -> dict[str, Any]:
        line: dict[str, Any] = {
            "transaction_type": self.transaction_type,
            "tradingsymbol": self.tradingsymbol,
            "exchange": self.exchange,
            "variety": self.variety,
            "product": self.product,
            "order_type": self.order_type,
            "quantity": self.quantity,
            "price": float(self.price),
            "charges": self.charges.to_kite(),
        }
        if self.order_id:
            line["order_id"] = self.order_id
        return line


@dataclass(frozen=True, slots=True)
class ContractNote:
    """A day's orders with their charges; ``totals`` sums every line."""

    lines: tuple[NoteLine, ...]

    @property
    def totals(self) -> NoteCharges:
        total = _EMPTY
        for line in self.lines:
            total = total + line.charges
        return total

    def to_kite(self) -> list[dict[str, Any]]:
        """The ``data`` list of Kite's response."""
        return [line.to_kite() for line in self.lines]


@dataclass(frozen=True, slots=True)
class NoteOrder:
    """An executed order to put on our note: who it is, how it is charged, its fills."""

    order_id: str
    tradingsymbol: str
    spec: OrderSpec
    fills: Sequence[Fill | tuple[int, float | Decimal]]
    variety: str = "regular"
    order_type: str = "MARKET"

    def kite_request(self, average_price: float) -> dict[str, Any]:
        """The order as ``get_virtual_contract_note`` takes it (all fields Kite requires)."""
        return {
            "order_id": self.order_id,
            "exchange": self.spec.exchange,
            "tradingsymbol": self.tradingsymbol,
            "transaction_type": self.spec.side.value,
            "variety": self.variety,
            "product": self.spec.product.value,
            "order_type": self.order_type,
            "quantity": sum(_quantity(item) for item in self.fills),
            "average_price": average_price,
        }


@dataclass(frozen=True, slots=True)
class NoteDifference:
    """One figure (or one line) where our note and Kite's disagree."""

    line: int  # 1-based position on the note; 0 for the note as a whole
    label: str
    field: str
    ours: str
    kite: str

    def describe(self) -> str:
        where = f"line {self.line} ({self.label})" if self.line else "note"
        return f"{where}: {self.field}: ours {self.ours}, Kite {self.kite}"


def _quantity(item: Fill | tuple[int, float | Decimal]) -> int:
    return item.quantity if isinstance(item, Fill) else item[0]


def contract_note(
    calculator: ChargeCalculator,
    orders: Iterable[NoteOrder],
    gst_split: GstSplit = "igst",
) -> ContractNote:
    """Our virtual contract note: each executed order's charges, per order, unrounded."""
    lines = []
    for order in orders:
        state = calculator.for_order(order.spec, order.fills)
        if state.quantity == 0:
            continue  # Kite lists executed orders only
        units = state.quantity * order.spec.multiplier
        lines.append(
            NoteLine(
                transaction_type=order.spec.side.value,
                tradingsymbol=order.tradingsymbol,
                exchange=order.spec.exchange,
                variety=order.variety,
                product=order.spec.product.value,
                order_type=order.order_type,
                quantity=state.quantity,
                price=_AVERAGE.divide(state.turnover, units),
                charges=NoteCharges.from_charges(state.charges, state.rates.tax_type, gst_split),
                order_id=order.order_id,
            )
        )
    return ContractNote(tuple(lines))


# --------------------------------------------------------------------------- Kite's side


class _KiteGst(BaseModel):
    model_config = ConfigDict(extra="ignore")
    igst: float
    cgst: float
    sgst: float
    total: float


class _KiteCharges(BaseModel):
    model_config = ConfigDict(extra="ignore")
    transaction_tax: float
    transaction_tax_type: str
    exchange_turnover_charge: float
    sebi_turnover_charge: float
    brokerage: float
    stamp_duty: float
    gst: _KiteGst
    total: float


class _KiteLine(BaseModel):
    model_config = ConfigDict(extra="ignore")
    transaction_type: str
    tradingsymbol: str
    exchange: str
    variety: str = ""
    product: str = ""
    order_type: str = ""
    quantity: int
    price: float = 0.0
    order_id: str = ""
    charges: _KiteCharges


def _exact(value: float) -> Decimal:
    """A float from Kite's JSON as the decimal its shortest text spells."""
    return Decimal(repr(value))


def parse_kite_contract_note(payload: Mapping[str, Any] | Sequence[Any]) -> ContractNote:
    """Kite's answer — the whole ``{"status", "data"}`` body or the ``data`` list the
    Python client returns — as a ``ContractNote``. Raises ``ContractNoteError``."""
    data: Any = payload
    if isinstance(payload, Mapping):
        if payload.get("status") not in (None, "success"):
            raise ContractNoteError(f"Kite contract note: status is {payload.get('status')!r}")
        data = payload.get("data")
    if not isinstance(data, list):
        raise ContractNoteError("Kite contract note: 'data' is not a list of orders")
    lines = []
    for index, raw in enumerate(data):
        try:
            item = _KiteLine.model_validate(raw)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"])
            raise ContractNoteError(
                f"Kite contract note: data[{index}].{where}: {first['msg']}"
            ) from None
        charges = item.charges
        lines.append(
            NoteLine(
                transaction_type=item.transaction_type,
                tradingsymbol=item.tradingsymbol,
                exchange=item.exchange,
                variety=item.variety,
                product=item.product,
                order_type=item.order_type,
                quantity=item.quantity,
                price=_exact(item.price),
                order_id=item.order_id,
                charges=NoteCharges(
                    transaction_tax=_exact(charges.transaction_tax),
                    transaction_tax_type=charges.transaction_tax_type,
                    exchange_turnover_charge=_exact(charges.exchange_turnover_charge),
                    sebi_turnover_charge=_exact(charges.sebi_turnover_charge),
                    brokerage=_exact(charges.brokerage),
                    stamp_duty=_exact(charges.stamp_duty),
                    gst_igst=_exact(charges.gst.igst),
                    gst_cgst=_exact(charges.gst.cgst),
                    gst_sgst=_exact(charges.gst.sgst),
                    gst_total=_exact(charges.gst.total),
                    total=_exact(charges.total),
                ),
            )
        )
    return ContractNote(tuple(lines))


def compare_notes(
    ours: ContractNote,
    kite: ContractNote,
    tolerance: Decimal = DEFAULT_TOLERANCE,
) -> tuple[NoteDifference, ...]:
    """Every line and figure where the notes differ by more than ``tolerance`` rupees."""
    differences: list[NoteDifference] = []
    if len(ours.lines) != len(kite.lines):
        differences.append(
            NoteDifference(0, "", "lines", str(len(ours.lines)), str(len(kite.lines)))
        )
    for number, (mine, theirs) in enumerate(zip(ours.lines, kite.lines, strict=False), 1):
        mine_id = (mine.tradingsymbol, mine.transaction_type, mine.exchange, mine.quantity)
        their_id = (theirs.tradingsymbol, theirs.transaction_type, theirs.exchange, theirs.quantity)
        if mine_id != their_id:
            differences.append(
                NoteDifference(
                    number, mine.label, "identity", _identity(mine_id), _identity(their_id)
                )
            )
            continue
        a, b = mine.charges, theirs.charges
        if a.transaction_tax_type != b.transaction_tax_type:
            differences.append(
                NoteDifference(
                    number,
                    mine.label,
                    "transaction_tax_type",
                    a.transaction_tax_type,
                    b.transaction_tax_type,
                )
            )
        for name in _AMOUNT_FIELDS:
            left, right = getattr(a, name), getattr(b, name)
            if abs(left - right) > tolerance:
                differences.append(
                    NoteDifference(number, mine.label, name, _show(left), _show(right))
                )
    return tuple(differences)


def _show(amount: Decimal) -> str:
    """``0.084000`` -> ``0.084``, ``0.0`` -> ``0``: the amount without trailing zeros."""
    return format(amount.normalize(), "f")


def _identity(key: tuple[str, str, str, int]) -> str:
    symbol, side, exchange, quantity = key
    return f"{exchange}:{symbol} {side} x{quantity}"
