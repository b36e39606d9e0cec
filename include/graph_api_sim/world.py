"""The seeded world: accounts, media, stories, comments and conversations.

Generated once at start and never mutated; what runs change (published posts, sent
messages, tokens) lives in ``state.py`` so a reset is cheap. Ids and values depend only
on the seed. Timestamps are relative to the start: feed history to the start of the day
(stable within a day), live items (stories, the 24 h messaging window) to the start of
the hour, because they must be live whatever the time of day.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import ClassVar

from . import catalog
from .catalog import DAY, HOUR, PRODUCT_FEED, PRODUCT_REELS, PRODUCT_STORY
from .config import SimConfig
from .ids import TOKEN_PREFIX, IdFactory, b64id, shortcode, stable_int

MEDIA_HOST = "https://media.graph-api-sim.test"

ADJECTIVES = ("sunny", "urban", "wild", "velvet", "salty", "golden", "quiet", "bold", "misty", "lucky",
              "rustic", "neon", "little", "north", "happy", "copper")
NOUNS = ("bakery", "atelier", "studio", "garden", "coffee", "threads", "ceramics", "bikes", "kitchen",
         "records", "florist", "optics", "outfitters", "books", "candles", "surfshop")
TOPICS = ("new arrivals", "behind the scenes", "weekend special", "meet the team", "customer favourite",
          "fresh from the workshop", "limited edition", "how it's made", "sale starts today", "thank you for 1k")
HASHTAGS = ("smallbusiness", "handmade", "shoplocal", "instagood", "newin", "design", "coffee", "style",
            "weekend", "reels")
COMMENT_TEXTS = ("Love this! 😍", "Where can I buy it?", "So good", "Do you ship to Spain?", "🔥🔥🔥",
                 "What size is this?", "Beautiful colours", "Need this in my life", "Is it back in stock?",
                 "Amazing work 👏", "How much?", "Tagging my sister", "Great idea", "Wow")
REPLY_TEXTS = ("Thank you! 🙏", "Check your DMs", "Yes, worldwide!", "Link in bio", "Back next week ❤️",
               "Glad you like it", "Sent you the details")
DM_USER_TEXTS = ("Hi! Is this still available?", "Do you ship to Berlin?", "What are your opening hours?",
                 "Can I order a custom one?", "Thanks, received it today!", "Is there a discount code?",
                 "Hello 👋", "What size would you recommend?")
DM_BUSINESS_TEXTS = ("Hi! Yes it is 😊", "We ship worldwide", "We're open 9-6 every day", "Sure, tell us more",
                     "So happy to hear that!", "Use WELCOME10 for 10% off")

PAGE_CATEGORIES = ("Shopping & retail", "Local business", "Brand", "Bakery", "Clothing store", "Artist")
# Pages of the Facebook user with no Instagram account linked: discovery lists them and registers none.
PAGES_WITHOUT_INSTAGRAM = ("Sam's Garage Sale", "Neighbourhood Book Club")

COMMENT_ID_BASE = 18_300_000_000_000_000
COMMENT_SLOTS = 10_000  # per media: top-level k < 100, reply r of top j at 100 + 99*j + r
MAX_TOP_COMMENTS = 100
MAX_REPLIES = 99


@dataclass(slots=True, eq=False)
class Media:
    node_type: ClassVar[str] = "IGMedia"
    id: str
    owner_id: str
    username: str
    media_type: str
    media_product_type: str
    timestamp: int
    caption: str | None = None
    media_url: str | None = None
    thumbnail_url: str | None = None
    permalink: str | None = None
    shortcode: str | None = None
    like_count: int = 0
    comments_count: int = 0
    is_comment_enabled: bool = True
    alt_text: str | None = None
    children: tuple[Media, ...] = ()
    parent_id: str | None = None
    ordinal: int = -1  # position among all seeded feed media; encodes comment ids
    top_comments: int = 0
    viewers: int = 0  # stories: fewer than 5 and insights answer code 10

    @property
    def is_carousel_item(self) -> bool:
        return self.parent_id is not None


@dataclass(slots=True, eq=False)
class Comment:
    node_type: ClassVar[str] = "IGComment"
    id: str
    media_id: str
    owner_id: str
    text: str
    username: str
    from_id: str
    timestamp: int
    like_count: int
    parent_id: str | None = None
    hidden: bool = False
    replies: list[Comment] = field(default_factory=list)


@dataclass(slots=True, eq=False)
class Message:
    node_type: ClassVar[str] = "IGMessage"
    id: str
    conversation_id: str
    owner_id: str
    created_time: int
    from_id: str
    from_username: str
    to_id: str
    to_username: str
    text: str


@dataclass(slots=True, eq=False)
class Conversation:
    node_type: ClassVar[str] = "IGConversation"
    id: str
    owner_id: str
    owner_username: str
    user_id: str  # the customer's IGSID
    user_username: str
    messages: tuple[Message, ...]  # oldest first

    @property
    def last_user_message_at(self) -> int:
        return max((m.created_time for m in self.messages if m.from_id == self.user_id), default=0)


@dataclass(slots=True, eq=False)
class Account:
    node_type: ClassVar[str] = "IGUser"
    id: str
    index: int
    username: str
    name: str
    biography: str
    website: str
    profile_picture_url: str
    followers_count: int
    follows_count: int
    business_since: int  # media older than this answers insights error 2108006
    token: str
    token_issued_at: int
    account_type: str = "BUSINESS"
    # How the business reaches this account: "instagram" (Instagram Login: graph.instagram.com,
    # an Instagram user token) or "facebook" (Facebook Login: graph.facebook.com, through its Page).
    login: str = catalog.LOGIN_INSTAGRAM
    page_id: str | None = None  # Facebook Login: the Page the account hangs off
    feed: list[Media] = field(default_factory=list)  # newest first
    feed_index: dict[str, int] = field(default_factory=dict)
    stories: list[Media] = field(default_factory=list)  # newest first
    conversations: list[Conversation] = field(default_factory=list)

    @property
    def owner_id(self) -> str:
        return self.id


@dataclass(slots=True, eq=False)
class Page:
    """A Facebook Page of the Facebook user; ``ig_account_id`` is its Instagram business account, if any."""

    node_type: ClassVar[str] = "Page"
    id: str
    name: str
    category: str
    owner_id: str  # the Facebook user who manages the Page
    ig_account_id: str | None = None


@dataclass(slots=True, eq=False)
class FacebookUser:
    """The person who logged in with Facebook and manages the Pages (one per world)."""

    node_type: ClassVar[str] = "FacebookUser"
    id: str
    name: str
    pages: list[Page] = field(default_factory=list)

    @property
    def owner_id(self) -> str:
        return self.id


class World:
    """All seeded objects, indexed by id."""

    def __init__(self, config: SimConfig, started_at: float) -> None:
        self.config = config
        self.seed = config.seed
        self.day_anchor = int(started_at) // DAY * DAY
        self.hour_anchor = int(started_at) // HOUR * HOUR
        self.accounts: list[Account] = []
        self.nodes: dict[str, object] = {}
        self.feed_by_ordinal: list[Media] = []
        self.conversations_by_user: dict[tuple[str, str], Conversation] = {}
        self.comment_base = COMMENT_ID_BASE + stable_int(self.seed, "comments") % 10**5 * 10**10
        self._comment_threads: dict[str, list[Comment]] = {}
        self.facebook_user: FacebookUser | None = None
        self._generate()
        self._connect_facebook_pages()

    # --- lookups ----------------------------------------------------------------------

    def node(self, object_id: str) -> object | None:
        found = self.nodes.get(object_id)
        if found is None and object_id.isdigit():
            return self.comment(object_id)
        return found

    def account(self, account_id: str) -> Account | None:
        found = self.nodes.get(account_id)
        return found if isinstance(found, Account) else None

    def comments(self, media: Media) -> list[Comment]:
        """Top-level comments of a media, newest first, each with its replies (oldest first).

        Made on first use (worlds can hold millions of comments) but only from the seed, so
        every call and every run sees the same thread.
        """
        thread = self._comment_threads.get(media.id)
        if thread is None:
            thread = self._make_comments(media)
            self._comment_threads[media.id] = thread
        return thread

    def comment(self, comment_id: str) -> Comment | None:
        offset = int(comment_id) - self.comment_base
        if not 0 <= offset < len(self.feed_by_ordinal) * COMMENT_SLOTS:
            return None
        ordinal = offset // COMMENT_SLOTS
        media = self.feed_by_ordinal[ordinal]
        for top in self.comments(media):
            if top.id == comment_id:
                return top
            for reply in top.replies:
                if reply.id == comment_id:
                    return reply
        return None

    # --- generation ---------------------------------------------------------------------

    def _generate(self) -> None:
        rng = random.Random(f"graph-api-sim:{self.seed}:world")
        ids = IdFactory(f"{self.seed}:world", taken=lambda candidate: candidate in self.nodes)
        usernames = self._usernames(rng)
        for index in range(self.config.accounts):
            account = self._make_account(rng, ids, index, usernames[index])
            self._register(account)
            self.accounts.append(account)
            account.feed = self._make_feed(rng, ids, account)
            self._place_business_conversion(account)
            account.feed_index = {media.id: i for i, media in enumerate(account.feed)}
            account.stories = self._make_stories(rng, ids, account)
            account.conversations = self._make_conversations(rng, ids, account)

    def _connect_facebook_pages(self) -> None:
        """Give the Facebook Login accounts their Pages, managed by one Facebook user, plus Pages
        without an Instagram account (which discovery must skip).

        Own RNG and ids, so the Instagram world is the same whichever login the accounts use.
        """
        facebook = [account for account in self.accounts if catalog.login_of(self.config.login, account.index)
                    == catalog.LOGIN_FACEBOOK]
        if not facebook:
            return
        rng = random.Random(f"graph-api-sim:{self.seed}:facebook")
        ids = IdFactory(f"{self.seed}:facebook", taken=lambda candidate: candidate in self.nodes)
        user = FacebookUser(id=ids.numeric("1000", 15), name="Sam Admin")
        self._register(user)
        self.facebook_user = user
        for account in facebook:
            page = Page(id=ids.numeric("1091", 15), name=account.name, category=rng.choice(PAGE_CATEGORIES),
                        owner_id=user.id, ig_account_id=account.id)
            account.login, account.page_id = catalog.LOGIN_FACEBOOK, page.id
            self._register(page)
            user.pages.append(page)
        for name in PAGES_WITHOUT_INSTAGRAM:
            page = Page(id=ids.numeric("1091", 15), name=name, category=rng.choice(PAGE_CATEGORIES), owner_id=user.id)
            self._register(page)
            user.pages.insert(rng.randint(0, len(user.pages)), page)

    def page(self, page_id: str) -> Page | None:
        found = self.nodes.get(page_id)
        return found if isinstance(found, Page) else None

    def _register(self, node: object) -> None:
        self.nodes[node.id] = node  # type: ignore[attr-defined]

    def _usernames(self, rng: random.Random) -> list[str]:
        names: list[str] = []
        while len(names) < self.config.accounts:
            name = f"{rng.choice(ADJECTIVES)}_{rng.choice(NOUNS)}"
            if name in names:
                name = f"{name}{len(names)}"
            names.append(name)
        return names

    def _make_account(self, rng: random.Random, ids: IdFactory, index: int, username: str) -> Account:
        count = self.config.accounts
        if count > 1 and index == count - 1:
            followers = rng.randint(40, 95)  # one account too small for follower_count insights
        elif index == 0:
            followers = rng.randint(20_000, 80_000)
        else:
            followers = int(10 ** rng.uniform(3, 5.4))
        # Tokens are days old (refreshable) and valid; the second account's expires soon.
        token_age_days = 55 if index == 1 else rng.randint(3, 30)
        title = username.replace("_", " ").title()
        account_id = ids.numeric("178414", 17)
        return Account(
            id=account_id,
            index=index,
            username=username,
            name=title,
            biography=f"{title} · {rng.choice(TOPICS).capitalize()} · DM us to order",
            website=f"https://{username.replace('_', '-')}.example.com",
            profile_picture_url=f"{MEDIA_HOST}/profile/{account_id}.jpg",
            followers_count=followers,
            follows_count=rng.randint(80, 1500),
            business_since=self.day_anchor - rng.randint(600, 680) * DAY,
            token=f"{TOKEN_PREFIX}{rng.getrandbits(128):032x}",
            token_issued_at=self.day_anchor - token_age_days * DAY + rng.randint(0, DAY - 1),
        )

    def _place_business_conversion(self, account: Account) -> None:
        """With ``pre_business_share`` set, the account turned business just after its
        oldest media of that share (which then refuse insights, 2108006)."""
        share = self.config.pre_business_share
        if share is None or not account.feed:
            return
        before = round(share * len(account.feed))
        if before == 0:
            account.business_since = account.feed[-1].timestamp - 1
        else:
            account.business_since = account.feed[len(account.feed) - before].timestamp + 1

    def _make_feed(self, rng: random.Random, ids: IdFactory, account: Account) -> list[Media]:
        count = self.config.media_per_account
        span = catalog.INSIGHTS_HISTORY_DAYS * DAY
        ages = sorted(rng.randint(2 * HOUR, span) for _ in range(count))
        kinds = [(media_type, product) for media_type, product, _ in catalog.FEED_MIX]
        weights = [share for _, _, share in catalog.FEED_MIX]
        rng.shuffle(kinds)
        feed: list[Media] = []
        for position, age in enumerate(ages):
            # The newest items cover every kind, so even a tiny world has one of each.
            media_type, product = kinds[position] if position < len(kinds) else rng.choices(
                [(t, p) for t, p, _ in catalog.FEED_MIX], weights)[0]
            copyrighted = position == 7 or (media_type != "CAROUSEL_ALBUM" and rng.random() < 0.03)
            media = self._make_media(rng, ids, account, "179", media_type, product,
                                     self.day_anchor - age, copyrighted)
            if media_type == "CAROUSEL_ALBUM":
                media.children = tuple(self._make_child(rng, ids, account, media)
                                       for _ in range(rng.randint(catalog.CAROUSEL_MIN_CHILDREN,
                                                                  catalog.CAROUSEL_MAX_CHILDREN)))
            media.ordinal = len(self.feed_by_ordinal)
            self.feed_by_ordinal.append(media)
            media.top_comments = (60 if position == 2 else 0 if rng.random() < 0.4 else rng.randint(1, 8))
            media.comments_count = media.top_comments + sum(
                self._reply_count(media, j) for j in range(media.top_comments))
            media.like_count = int(account.followers_count * rng.uniform(0.005, 0.08)) + media.comments_count
            self._register(media)
            feed.append(media)
        return feed

    def _make_media(self, rng: random.Random, ids: IdFactory, account: Account, prefix: str,
                    media_type: str, product: str, timestamp: int, copyrighted: bool = False) -> Media:
        media_id = ids.numeric(prefix, 17)
        video = media_type == "VIDEO"
        slug = shortcode(rng)
        if product == PRODUCT_STORY:
            permalink = f"https://www.instagram.com/stories/{account.username}/{media_id}/"
        else:
            permalink = f"https://www.instagram.com/{'reel' if product == PRODUCT_REELS else 'p'}/{slug}/"
        caption = None
        if product != PRODUCT_STORY and rng.random() > 0.05:
            tags = " ".join("#" + tag for tag in rng.sample(HASHTAGS, rng.randint(0, 4)))
            caption = f"{rng.choice(TOPICS).capitalize()} at {account.name}. {tags}".strip()
        return Media(
            id=media_id,
            owner_id=account.id,
            username=account.username,
            media_type=media_type,
            media_product_type=product,
            timestamp=timestamp,
            caption=caption,
            media_url=None if copyrighted else f"{MEDIA_HOST}/{media_id}.{'mp4' if video else 'jpg'}",
            thumbnail_url=f"{MEDIA_HOST}/{media_id}_thumb.jpg" if video else None,
            permalink=permalink,
            shortcode=slug,
            alt_text=None if video or product == PRODUCT_STORY else f"Photo by {account.name}",
        )

    def _make_child(self, rng: random.Random, ids: IdFactory, account: Account, parent: Media) -> Media:
        media_type = "VIDEO" if rng.random() < 0.2 else "IMAGE"
        child = self._make_media(rng, ids, account, "180", media_type, PRODUCT_FEED, parent.timestamp)
        child.parent_id = parent.id
        child.caption = None
        child.permalink = None  # carousel children have no permalink
        self._register(child)
        return child

    def _make_stories(self, rng: random.Random, ids: IdFactory, account: Account) -> list[Media]:
        ages = sorted(rng.randint(HOUR, 20 * HOUR) for _ in range(rng.randint(3, 6)))
        stories = []
        for position, age in enumerate(ages):
            media_type = "VIDEO" if rng.random() < 0.3 else "IMAGE"
            story = self._make_media(rng, ids, account, "181", media_type, PRODUCT_STORY, self.hour_anchor - age)
            oldest = position == len(ages) - 1
            reach = int(account.followers_count * rng.uniform(0.02, 0.2))
            story.viewers = rng.randint(1, 4) if oldest else max(5, reach)
            story.like_count = 0
            self._register(story)
            stories.append(story)
        return stories

    def _reply_count(self, media: Media, top: int) -> int:
        if media.top_comments == 60 and top == 0:
            return 30  # one long thread per account, so reply paging is exercised
        if stable_int(self.seed, "has", media.id, top) % 3:
            return 0
        return 1 + stable_int(self.seed, "replies", media.id, top) % 3

    def _make_comments(self, media: Media) -> list[Comment]:
        base = self.comment_base + media.ordinal * COMMENT_SLOTS
        account = self.account(media.owner_id)
        assert account is not None
        horizon = self.day_anchor - 60
        threads: list[Comment] = []
        for top in range(min(media.top_comments, MAX_TOP_COMMENTS)):
            when = min(horizon, media.timestamp + (top + 1) * 600 + stable_int(self.seed, "ct", media.id, top) % 3000)
            author = self._commenter(media.id, top)
            comment = Comment(
                id=str(base + top), media_id=media.id, owner_id=media.owner_id,
                text=COMMENT_TEXTS[stable_int(self.seed, "text", media.id, top) % len(COMMENT_TEXTS)],
                username=author[1], from_id=author[0], timestamp=when,
                like_count=stable_int(self.seed, "cl", media.id, top) % 12,
            )
            for reply in range(min(self._reply_count(media, top), MAX_REPLIES)):
                comment.replies.append(Comment(
                    id=str(base + MAX_TOP_COMMENTS + top * MAX_REPLIES + reply), media_id=media.id,
                    owner_id=media.owner_id,
                    text=REPLY_TEXTS[stable_int(self.seed, "rt", media.id, top, reply) % len(REPLY_TEXTS)],
                    username=account.username if reply % 2 == 0 else author[1],
                    from_id=account.id if reply % 2 == 0 else author[0],
                    timestamp=min(horizon, when + (reply + 1) * 300), like_count=reply % 3,
                    parent_id=comment.id,
                ))
            threads.append(comment)
        threads.sort(key=lambda c: (c.timestamp, c.id), reverse=True)
        return threads

    def _commenter(self, media_id: str, top: int) -> tuple[str, str]:
        h = stable_int(self.seed, "who", media_id, top)
        username = f"{ADJECTIVES[h % len(ADJECTIVES)]}.{NOUNS[(h >> 8) % len(NOUNS)]}{h % 97}"
        return str(7_000_000_000_000_000 + h % 10**15), username

    def _make_conversations(self, rng: random.Random, ids: IdFactory, account: Account) -> list[Conversation]:
        conversations = []
        for position in range(8 + rng.randrange(5)):
            igsid = ids.numeric("7", 16)
            username = f"{rng.choice(ADJECTIVES)}{rng.choice(NOUNS)}{rng.randint(1, 999)}"
            # The first conversation is inside the 24 h window, the second outside; the rest mixed.
            inside = position == 0 or (position > 1 and rng.random() < 0.5)
            last_user = self.hour_anchor - (rng.randint(HOUR, 18 * HOUR) if inside
                                            else rng.randint(26 * HOUR, 60 * DAY))
            conversation_id = b64id(f"ig_d:1:IGMessageThread:{account.id}:{igsid}")
            count = rng.randint(2, 12)
            times = [last_user]
            for _ in range(count - 1):
                times.append(times[-1] - rng.randint(300, 6 * HOUR))
            times.reverse()
            from_user = [(count - 1 - i) % 2 == 0 for i in range(count)]  # alternate, ending with the user
            if rng.random() < 0.3:  # the business already answered the last message
                times.append(last_user + rng.randint(60, 900))
                from_user.append(False)
            messages = []
            for seq, (when, by_user) in enumerate(zip(times, from_user, strict=True)):
                sender = (igsid, username) if by_user else (account.id, account.username)
                recipient = (account.id, account.username) if by_user else (igsid, username)
                text_table = DM_USER_TEXTS if by_user else DM_BUSINESS_TEXTS
                message = Message(
                    id=b64id(f"ig_item:1:IGMessageThread:{account.id}:{igsid}:{seq}"),
                    conversation_id=conversation_id, owner_id=account.id, created_time=when,
                    from_id=sender[0], from_username=sender[1], to_id=recipient[0], to_username=recipient[1],
                    text=rng.choice(text_table),
                )
                messages.append(message)
                self._register(message)
            conversation = Conversation(
                id=conversation_id, owner_id=account.id, owner_username=account.username,
                user_id=igsid, user_username=username, messages=tuple(messages),
            )
            self._register(conversation)
            self.conversations_by_user[(account.id, igsid)] = conversation
            conversations.append(conversation)
        return conversations
