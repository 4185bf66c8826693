"""The domain model. Invariants that money and case states depend on are database constraints.

All times are naive UTC (`bot.clock.utcnow`); replies convert them to Asia/Seoul.
"""
from __future__ import annotations

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import declarative_base, relationship

Base = declarative_base()

# The states in which a case is still open: at most one such case per listing.
OPEN_CASE_STATES = ("submitted", "under_review", "info_requested")
CASE_STATES = (
    "submitted",
    "under_review",
    "info_requested",
    "action_taken",
    "rejected",
    "counter_notice",
    "upheld",
    "reinstated",
    "withdrawn",
    "closed",
)
INFRINGEMENT_TYPES = ("counterfeit", "trademark", "copyright", "design")
# Who opened a case: a shopper's report, a rights holder's notice, a third party's test buy, or the risk
# screening (for the team to review; screening never removes anything by itself).
CASE_SOURCES = ("shopper_report", "rights_holder", "inspection", "screening")
# A seller's verification: none, business registration checked, or authorised by a brand (per brand,
# in seller_brand_authorisations; the level says the seller holds at least one such authorisation).
VERIFICATION_LEVELS = ("unverified", "business_verified", "authorised_reseller")
INSPECTION_RESULTS = ("fake", "genuine", "inconclusive")
# The truth of a demo listing, for `cleanbot eval screening` only (never read by the screening itself).
TRUTH_LABELS = ("fake", "genuine")


def _in(column: str, values) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


class Brand(Base):
    __tablename__ = "brands"
    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False, unique=True)
    synonyms = relationship("BrandSynonym", back_populates="brand", cascade="all, delete-orphan")


class BrandSynonym(Base):
    __tablename__ = "brand_synonyms"
    id = Column(Integer, primary_key=True)
    brand_id = Column(Integer, ForeignKey("brands.id"), nullable=False)
    # Stored case-folded so look-ups are exact matches.
    synonym = Column(String(100), nullable=False, unique=True)
    brand = relationship("Brand", back_populates="synonyms")


class Customer(Base):
    __tablename__ = "customers"
    # The marketplace's customer id; on the web/REST channel it is also the sender id.
    id = Column(String(64), primary_key=True)
    name = Column(String(100), nullable=False)
    created_at = Column(DateTime, nullable=False)


class RightsHolder(Base):
    __tablename__ = "rights_holders"
    id = Column(Integer, primary_key=True)
    name = Column(String(100), nullable=False)
    brand_id = Column(Integer, ForeignKey("brands.id"), nullable=False)
    verified_at = Column(DateTime, nullable=False)
    brand = relationship("Brand")


class ChatIdentity(Base):
    """A chat account (channel + sender id) linked to a customer or a rights holder."""

    __tablename__ = "chat_identities"
    id = Column(Integer, primary_key=True)
    channel = Column(String(20), nullable=False)  # "web" (REST, socket.io), "telegram" or "kakao"
    external_id = Column(String(128), nullable=False)
    customer_id = Column(String(64), ForeignKey("customers.id"))
    created_at = Column(DateTime, nullable=False)
    customer = relationship("Customer")
    holders = relationship("RightsHolder", secondary="holder_identities")
    __table_args__ = (
        UniqueConstraint("channel", "external_id", name="uq_identity_sender"),
        CheckConstraint("channel IN ('web', 'telegram', 'kakao')", name="ck_identity_channel"),
    )


class HolderIdentity(Base):
    """A chat account verified for a brand's rights holder (one account may hold several brands)."""

    __tablename__ = "holder_identities"
    rights_holder_id = Column(Integer, ForeignKey("rights_holders.id"), primary_key=True)
    identity_id = Column(Integer, ForeignKey("chat_identities.id"), primary_key=True)
    created_at = Column(DateTime, nullable=False)


class Seller(Base):
    __tablename__ = "sellers"
    id = Column(String(32), primary_key=True)
    name = Column(String(100), nullable=False)
    status = Column(String(20), nullable=False, default="active")
    frozen_until = Column(DateTime)
    verification_level = Column(String(20), nullable=False, default="unverified", server_default="unverified")
    verified_at = Column(DateTime)
    # When the store opened on the marketplace (NULL: unknown, from before 0009): a young store is a risk signal.
    created_at = Column(DateTime)
    __table_args__ = (
        CheckConstraint("status IN ('active', 'frozen', 'closed')", name="ck_seller_status"),
        CheckConstraint(_in("verification_level", VERIFICATION_LEVELS), name="ck_seller_verification_level"),
        # A verified seller has the date of the check; an unverified one has none.
        CheckConstraint("(verification_level = 'unverified') = (verified_at IS NULL)", name="ck_seller_verified_at"),
        # Frozen exactly when there is an end to the freeze: one that never ends could never be lifted.
        CheckConstraint("(status = 'frozen' AND frozen_until IS NOT NULL) OR (status <> 'frozen' AND frozen_until IS NULL)",
                        name="ck_seller_frozen_until"),
    )


class SellerBrandAuthorisation(Base):
    """A brand's authorisation of a seller as reseller: "authorised reseller" holds for that brand only."""

    __tablename__ = "seller_brand_authorisations"
    seller_id = Column(String(32), ForeignKey("sellers.id"), primary_key=True)
    brand_id = Column(Integer, ForeignKey("brands.id"), primary_key=True)
    created_at = Column(DateTime, nullable=False)
    created_by = Column(String(100), nullable=False)


class Strike(Base):
    __tablename__ = "strikes"
    id = Column(Integer, primary_key=True)
    seller_id = Column(String(32), ForeignKey("sellers.id"), nullable=False)
    listing_id = Column(String(16), ForeignKey("listings.id"), nullable=False)
    case_id = Column(Integer, ForeignKey("ipp_cases.id"), nullable=False)
    reason = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False)
    expires_at = Column(DateTime, nullable=False)
    withdrawn_at = Column(DateTime)
    # A case's outcome applies once, however many reports it gathered.
    __table_args__ = (UniqueConstraint("case_id", name="uq_strike_case"),)


class Listing(Base):
    __tablename__ = "listings"
    id = Column(String(16), primary_key=True)
    seller_id = Column(String(32), ForeignKey("sellers.id"), nullable=False)
    brand_id = Column(Integer, ForeignKey("brands.id"), nullable=False)
    title = Column(String(200), nullable=False)
    price_krw = Column(Integer, nullable=False)
    status = Column(String(20), nullable=False, default="active")
    removed_at = Column(DateTime)
    # The brand's own price for the product (its rights holder's list price), to compare the listing's price with.
    reference_price_krw = Column(Integer)
    # The 64-bit perceptual hash (hex, as photos.phash) of the listing's main photo.
    photo_phash = Column(String(16), index=True)
    # Demo and evaluation only: what the listing really is (bot/fixtures/screening.yml).
    truth_label = Column(String(10))
    seller = relationship("Seller")
    brand = relationship("Brand")
    __table_args__ = (
        CheckConstraint("status IN ('active', 'removed')", name="ck_listing_status"),
        CheckConstraint("id LIKE '1005%'", name="ck_listing_id"),
        CheckConstraint("reference_price_krw IS NULL OR reference_price_krw > 0", name="ck_listing_reference_price"),
        CheckConstraint("photo_phash IS NULL OR length(photo_phash) = 16", name="ck_listing_photo_phash"),
        CheckConstraint("truth_label IS NULL OR " + _in("truth_label", TRUTH_LABELS), name="ck_listing_truth_label"),
    )


class Order(Base):
    __tablename__ = "orders"
    number = Column(String(16), primary_key=True)
    customer_id = Column(String(64), ForeignKey("customers.id"), nullable=False)
    listing_id = Column(String(16), ForeignKey("listings.id"), nullable=False)
    product_name = Column(String(200), nullable=False)
    amount_krw = Column(Integer, nullable=False)
    paid_at = Column(DateTime, nullable=False)
    delivered_at = Column(DateTime)
    status = Column(String(20), nullable=False)
    listing = relationship("Listing")
    customer = relationship("Customer")
    __table_args__ = (
        CheckConstraint("amount_krw > 0", name="ck_order_amount"),
        CheckConstraint("status IN ('paid', 'shipped', 'delivered')", name="ck_order_status"),
        CheckConstraint("length(number) = 16", name="ck_order_number"),
    )


class Photo(Base):
    __tablename__ = "photos"
    sha256 = Column(String(64), primary_key=True)
    path = Column(String(400), nullable=False)
    mime = Column(String(40), nullable=False)
    width = Column(Integer, nullable=False)
    height = Column(Integer, nullable=False)
    size_bytes = Column(Integer, nullable=False)
    phash = Column(String(16), nullable=False, index=True)
    created_at = Column(DateTime, nullable=False)


class IppCase(Base):
    """One case per listing under suspicion; shopper reports and takedown notices join it."""

    __tablename__ = "ipp_cases"
    id = Column(Integer, primary_key=True)
    number = Column(String(15), unique=True)  # IPP-YYYY-NNNNNN, set right after insert
    listing_id = Column(String(16), ForeignKey("listings.id"), nullable=False)
    brand_id = Column(Integer, ForeignKey("brands.id"), nullable=False)
    state = Column(String(20), nullable=False)
    source = Column(String(20), nullable=False)  # CASE_SOURCES: who opened it
    rights_holder_id = Column(Integer, ForeignKey("rights_holders.id"))
    infringement_type = Column(String(20))
    trademark_number = Column(String(20))
    description = Column(Text)
    created_at = Column(DateTime, nullable=False)
    updated_at = Column(DateTime, nullable=False)
    decided_at = Column(DateTime)
    listing = relationship("Listing")
    brand = relationship("Brand")
    rights_holder = relationship("RightsHolder")
    events = relationship("CaseEvent", order_by="CaseEvent.id", back_populates="case")
    __table_args__ = (
        CheckConstraint(_in("state", CASE_STATES), name="ck_case_state"),
        CheckConstraint(_in("source", CASE_SOURCES), name="ck_case_source"),
        CheckConstraint(
            "infringement_type IS NULL OR " + _in("infringement_type", INFRINGEMENT_TYPES),
            name="ck_case_infringement_type",
        ),
        Index(
            "uq_open_case_per_listing",
            "listing_id",
            unique=True,
            sqlite_where=text(_in("state", OPEN_CASE_STATES)),
            postgresql_where=text(_in("state", OPEN_CASE_STATES)),
        ),
    )


class CaseEvent(Base):
    """The case timeline: every change with time, actor and note."""

    __tablename__ = "case_events"
    id = Column(Integer, primary_key=True)
    case_id = Column(Integer, ForeignKey("ipp_cases.id"), nullable=False, index=True)
    at = Column(DateTime, nullable=False)
    actor = Column(String(100), nullable=False)
    from_state = Column(String(20))
    to_state = Column(String(20), nullable=False)
    note = Column(Text)
    case = relationship("IppCase", back_populates="events")


class CasePhoto(Base):
    __tablename__ = "case_photos"
    case_id = Column(Integer, ForeignKey("ipp_cases.id"), primary_key=True)
    photo_sha256 = Column(String(64), ForeignKey("photos.sha256"), primary_key=True)


class Report(Base):
    """A shopper's counterfeit report: one per order, ever."""

    __tablename__ = "reports"
    id = Column(Integer, primary_key=True)
    number = Column(String(15), unique=True)  # RPT-YYYY-NNNNNN, set right after insert
    customer_id = Column(String(64), ForeignKey("customers.id"), nullable=False, index=True)
    order_number = Column(String(16), ForeignKey("orders.number"), nullable=False, unique=True)
    case_id = Column(Integer, ForeignKey("ipp_cases.id"), nullable=False)
    description = Column(Text, nullable=False)
    # refund_status: granted under the guarantee, held for agent review (abuse rules), or rejected.
    refund_status = Column(String(20), nullable=False)
    hold_reason = Column(Text)
    # verdict of the brand-protection review of the listing.
    verdict = Column(String(20), nullable=False, default="pending")
    created_at = Column(DateTime, nullable=False)
    order = relationship("Order")
    case = relationship("IppCase")
    refund = relationship("Refund", uselist=False, back_populates="report")
    __table_args__ = (
        CheckConstraint("refund_status IN ('granted', 'held', 'rejected')", name="ck_report_refund_status"),
        CheckConstraint("verdict IN ('pending', 'confirmed_fake', 'genuine')", name="ck_report_verdict"),
    )


class ReportPhoto(Base):
    __tablename__ = "report_photos"
    report_id = Column(Integer, ForeignKey("reports.id"), primary_key=True)
    photo_sha256 = Column(String(64), ForeignKey("photos.sha256"), primary_key=True)


class Refund(Base):
    """Money paid under the guarantee. The unique order number is the never-twice guarantee."""

    __tablename__ = "refunds"
    id = Column(Integer, primary_key=True)
    order_number = Column(String(16), ForeignKey("orders.number"), nullable=False, unique=True)
    report_id = Column(Integer, ForeignKey("reports.id"), nullable=False, unique=True)
    amount_krw = Column(Integer, nullable=False)
    approved_by = Column(String(100), nullable=False)  # "guarantee" or the agent
    created_at = Column(DateTime, nullable=False)
    report = relationship("Report", back_populates="refund")
    __table_args__ = (CheckConstraint("amount_krw > 0", name="ck_refund_amount"),)


class BrandOwnerInvite(Base):
    __tablename__ = "brand_owner_invites"
    id = Column(Integer, primary_key=True)
    code = Column(String(8), nullable=False, unique=True)
    brand_id = Column(Integer, ForeignKey("brands.id"), nullable=False)
    holder_name = Column(String(100), nullable=False)
    created_at = Column(DateTime, nullable=False)
    expires_at = Column(DateTime, nullable=False)
    used_at = Column(DateTime)
    used_by_identity_id = Column(Integer, ForeignKey("chat_identities.id"))
    brand = relationship("Brand")


class VerificationAttempt(Base):
    """Failed verification codes, for the five-per-hour lock."""

    __tablename__ = "verification_attempts"
    id = Column(Integer, primary_key=True)
    channel = Column(String(20), nullable=False)
    external_id = Column(String(128), nullable=False)
    at = Column(DateTime, nullable=False)
    __table_args__ = (Index("ix_verification_attempts_sender", "channel", "external_id", "at"),)


class Notification(Base):
    """The outbox: written in the same transaction as the change it announces."""

    __tablename__ = "notifications"
    id = Column(Integer, primary_key=True)
    # What it announces: a case event (status updates, recalls), or a topic of its own such as
    # "refund-decision:RPT-2026-000001" (exactly one of the two).
    case_event_id = Column(Integer, ForeignKey("case_events.id"))
    topic = Column(String(80))
    identity_id = Column(Integer, ForeignKey("chat_identities.id"), nullable=False)
    text = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False)
    attempts = Column(Integer, nullable=False, default=0)
    next_attempt_at = Column(DateTime, nullable=False)
    delivered_at = Column(DateTime)
    last_error = Column(Text)
    # Buttons sent with the text ([{"title", "payload"}]): the recall's one-tap refund.
    buttons = Column(JSON(none_as_null=True))
    # At most one message per change and recipient, however often it is retried.
    __table_args__ = (
        UniqueConstraint("case_event_id", "identity_id", name="uq_notification_once"),
        UniqueConstraint("topic", "identity_id", name="uq_notification_topic_once"),
        CheckConstraint("(case_event_id IS NULL) <> (topic IS NULL)", name="ck_notification_about"),
    )


class RecallNotice(Base):
    """A recall: the buyer of a listing removed as counterfeit is told, with a one-tap refund. One per
    order, ever (the unique order number), however often the case is decided again."""

    __tablename__ = "recall_notices"
    id = Column(Integer, primary_key=True)
    order_number = Column(String(16), ForeignKey("orders.number"), nullable=False, unique=True)
    customer_id = Column(String(64), ForeignKey("customers.id"), nullable=False, index=True)
    case_id = Column(Integer, ForeignKey("ipp_cases.id"), nullable=False, index=True)
    case_event_id = Column(Integer, ForeignKey("case_events.id"), nullable=False)
    # How many chat accounts the notice was written to (outbox rows); 0: no linked channel, the team reaches
    # the buyer another way (`cleanbot recalls list CASE`).
    reached = Column(Integer, nullable=False)
    created_at = Column(DateTime, nullable=False)
    __table_args__ = (CheckConstraint("reached >= 0", name="ck_recall_reached"),)


class Inspection(Base):
    """A mystery-shopper test buy or random inspection by a third party."""

    __tablename__ = "inspections"
    id = Column(Integer, primary_key=True)
    listing_id = Column(String(16), ForeignKey("listings.id"), nullable=False, index=True)
    case_id = Column(Integer, ForeignKey("ipp_cases.id"), index=True)  # the case it was recorded on
    result = Column(String(20), nullable=False)
    agency = Column(String(100), nullable=False)
    order_ref = Column(String(64))  # the test buy's order on the marketplace, as the agency gave it
    note = Column(Text)
    created_at = Column(DateTime, nullable=False)
    created_by = Column(String(100), nullable=False)
    __table_args__ = (
        CheckConstraint(_in("result", INSPECTION_RESULTS), name="ck_inspection_result"),
        CheckConstraint("length(agency) > 0", name="ck_inspection_agency"),
    )


class InspectionPhoto(Base):
    __tablename__ = "inspection_photos"
    inspection_id = Column(Integer, ForeignKey("inspections.id"), primary_key=True)
    photo_sha256 = Column(String(64), ForeignKey("photos.sha256"), primary_key=True)


class AuditLog(Base):
    __tablename__ = "audit_log"
    id = Column(Integer, primary_key=True)
    at = Column(DateTime, nullable=False)
    actor = Column(String(100), nullable=False)
    action = Column(String(60), nullable=False)
    subject = Column(String(100), nullable=False)
    detail = Column(JSON)


# ---------------------------------------------------------------- Telegram (connectors/telegram.py)

from sqlalchemy import BigInteger  # noqa: E402  (kept with the Telegram tables)


class TelegramUpdate(Base):
    """Every Telegram update taken in, recorded when it is received and marked handled afterwards: a second
    delivery of the same update_id (Telegram retrying a webhook, a restarted poller, another replica) fails
    the primary key, and one received but never handled (the process died in between) is handled again
    from its payload at the next start."""

    __tablename__ = "telegram_updates"
    update_id = Column(BigInteger, primary_key=True, autoincrement=False)
    kind = Column(String(30), nullable=False)  # message, callback_query, edited_message, …
    chat_id = Column(BigInteger)
    received_at = Column(DateTime, nullable=False, index=True)
    # The update as Telegram sent it, to handle it again after a crash; NULL on rows from before 0004.
    payload = Column(JSON(none_as_null=True))
    handled_at = Column(DateTime, index=True)  # NULL: received, not (yet) handled
    # Starts that took it up again: a poison update that kills the process is given up, not retried forever.
    attempts = Column(Integer, nullable=False, default=0, server_default=text("0"))
    # The process handling it (a lease holder id, bot.services.leases): while that process's
    # "telegram-alive:<holder>" lease lives, no other replica takes the update up.
    handler = Column(String(200))


class TelegramLinkToken(Base):
    """A one-time token that links a chat account to a customer: a Telegram deep-link token (`/start <token>`)
    or a KakaoTalk 6-digit code ("연동 123456"), by `channel`. Only the SHA-256 of the token (with its channel)
    is stored; the token itself is shown once, to the marketplace."""

    __tablename__ = "telegram_link_tokens"
    token_sha256 = Column(String(64), primary_key=True)
    customer_id = Column(String(64), ForeignKey("customers.id"), nullable=False, index=True)
    created_at = Column(DateTime, nullable=False)
    expires_at = Column(DateTime, nullable=False)
    used_at = Column(DateTime)
    used_by = Column(String(128))  # the account that redeemed it (Telegram user id, Kakao botUserKey)
    channel = Column(String(20), nullable=False, default="telegram", server_default="telegram")
    __table_args__ = (
        CheckConstraint("(used_at IS NULL) = (used_by IS NULL)", name="ck_link_token_used"),
        CheckConstraint("channel IN ('telegram', 'kakao')", name="ck_link_token_channel"),
    )


class TelegramCallbackKey(Base):
    """Button payloads longer than Telegram's 64-byte callback data, by a short key derived from
    the payload's hash (so every replica computes the same key)."""

    __tablename__ = "telegram_callback_keys"
    key = Column(String(32), primary_key=True)
    payload = Column(Text, nullable=False)
    created_at = Column(DateTime, nullable=False)


# ---------------------------------------------------------------- human takeover (bot/services/handoff.py)

HANDOFF_STATES = ("waiting", "held", "closed")
OPEN_HANDOFF_STATES = ("waiting", "held")
HANDOFF_REASONS = ("request_human", "fallback", "complain")
# user: the user's message, to the agents' topic · agent: an agent's message, to the user ·
# note: an agent's internal note (stays in the topic) · system: the desk's note, to the topic ·
# bot: the bot's notice about the hand-over, to the user (agent joined, back in the queue, hand-back).
HANDOFF_DIRECTIONS = ("user", "agent", "note", "system", "bot")


class Handoff(Base):
    """A conversation handed over to the agents: waiting in the queue, held by an agent, or closed.

    At most one open (waiting or held) hand-over per chat account: a partial unique index."""

    __tablename__ = "handoffs"
    id = Column(Integer, primary_key=True)
    identity_id = Column(Integer, ForeignKey("chat_identities.id"), nullable=False)
    channel = Column(String(20), nullable=False)  # "web" or "telegram", as chat_identities.channel
    sender_id = Column(String(128), nullable=False)  # the Rasa conversation id
    input_channel = Column(String(40), nullable=False)  # the Rasa channel it came on: rest, socketio, telegram
    reason = Column(String(20), nullable=False)
    state = Column(String(20), nullable=False)
    after_hours = Column(Integer, nullable=False, default=0)  # 1: asked for outside business hours
    topic_id = Column(BigInteger)  # message_thread_id of its topic in the agents' group
    agent_id = Column(String(32))  # Telegram user id of the agent holding it
    agent_name = Column(String(100))
    created_at = Column(DateTime, nullable=False)
    queued_at = Column(DateTime, nullable=False)  # since when it waits (again) in the queue
    held_at = Column(DateTime)
    last_agent_at = Column(DateTime)
    closed_at = Column(DateTime)
    closed_by = Column(String(100))
    close_reason = Column(String(20))  # done, topic_closed, released, cancelled
    resumed_at = Column(DateTime)  # the bot took the conversation back (ConversationResumed)
    rating = Column(Integer)
    rated_at = Column(DateTime)
    identity = relationship("ChatIdentity")
    __table_args__ = (
        CheckConstraint(_in("state", HANDOFF_STATES), name="ck_handoff_state"),
        CheckConstraint(_in("reason", HANDOFF_REASONS), name="ck_handoff_reason"),
        CheckConstraint("rating IS NULL OR (rating BETWEEN 1 AND 5)", name="ck_handoff_rating"),
        CheckConstraint("(state = 'held') = (agent_id IS NOT NULL)", name="ck_handoff_held_agent"),
        Index(
            "uq_open_handoff_per_identity",
            "identity_id",
            unique=True,
            sqlite_where=text(_in("state", OPEN_HANDOFF_STATES)),
            postgresql_where=text(_in("state", OPEN_HANDOFF_STATES)),
        ),
        Index("ix_handoffs_state", "state"),
        Index("ix_handoffs_topic", "topic_id"),
    )


class HandoffMessage(Base):
    """Everything said during a hand-over, and the outbox of what still has to reach the other side:
    `delivered_at` is when it reached its destination (the topic for user/system, the user for agent/bot)."""

    __tablename__ = "handoff_messages"
    id = Column(Integer, primary_key=True)
    handoff_id = Column(Integer, ForeignKey("handoffs.id"), nullable=False, index=True)
    direction = Column(String(10), nullable=False)
    text = Column(Text, nullable=False, default="")
    photo_sha256 = Column(String(64), ForeignKey("photos.sha256"))
    buttons = Column(JSON)
    actor = Column(String(100))  # the agent (telegram-agent:<id>) for agent messages and notes
    created_at = Column(DateTime, nullable=False)
    delivered_at = Column(DateTime)
    attempts = Column(Integer, nullable=False, default=0)
    last_error = Column(Text)
    __table_args__ = (
        CheckConstraint(_in("direction", HANDOFF_DIRECTIONS), name="ck_handoff_message_direction"),
        Index("ix_handoff_messages_pending", "delivered_at", "direction"),
    )


# ---------------------------------------------------------------- background jobs across processes (bot/services/leases.py)


class Lease(Base):
    """Who runs a background job (or works on one item) right now, across processes and replicas.

    Taken with a conditional UPDATE (free, expired, or already ours) or an INSERT that yields to a
    concurrent one; renewed by its holder while it works; taken over once `expires_at` has passed
    (the holder died); released (holder cleared, or the row deleted for per-item claims) on a clean stop."""

    __tablename__ = "leases"
    name = Column(String(200), primary_key=True)
    holder = Column(String(200))  # host:pid:random of the holder; NULL when released
    expires_at = Column(DateTime, nullable=False)
    acquired_at = Column(DateTime)  # since when the current holder has it
    # +1 at every change of holder: tells, in logs and tests, how often the job moved between processes.
    generation = Column(Integer, nullable=False, default=0)
