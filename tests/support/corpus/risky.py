"""Leaks: mail that must be rewritten, held or rejected before it leaves."""

from __future__ import annotations

from tests.support.corpus import council as cc
from tests.support.corpus import docs
from tests.support.corpus.clean import _decision_letter, _letterhead
from tests.support.corpus.ids import Person
from tests.support.corpus.kinds import Ctx, Sample, kind, person_secrets
from tests.support.corpus.mail import Attachment, Draft, Quote

# --- tables of people ------------------------------------------------------------------

COLUMNS = {
    "name": ("Name", lambda p: p.name),
    "first": ("Forename", lambda p: p.first),
    "last": ("Surname", lambda p: p.last),
    "address": ("Address", lambda p: f"{p.street}, {p.town}"),
    "postcode": ("Postcode", lambda p: p.postcode),
    "dob": ("Date of birth", lambda p: f"{p.dob:%d/%m/%Y}"),
    "nhs": ("NHS number", lambda p: p.nhs),
    "nino": ("NI number", lambda p: p.nino),
    "phone": ("Telephone", lambda p: p.phone),
    "email": ("Email", lambda p: p.email),
    "passport": ("Passport no.", lambda p: p.passport),
    "licence": ("Driving licence no.", lambda p: p.licence),
}
ENTITY = {
    "dob": "DATE_OF_BIRTH",
    "nhs": "UK_NHS",
    "nino": "UK_NINO",
    "passport": "UK_PASSPORT",
    "licence": "UK_DRIVING_LICENCE",
}
HEADER_VARIANTS = {
    "dob": ["Date of birth", "DOB", "D.O.B.", "Date of Birth"],
    "nhs": ["NHS number", "NHS No", "NHS No.", "NHS Number"],
    "nino": ["NI number", "NINO", "National Insurance No", "NI No"],
    "name": ["Name", "Full name", "Client name", "Resident"],
}


def people_table(
    ctx: Ctx, people: list[Person], cols: list[str], extra: dict[str, list[str]] | None = None
):
    header = [ctx.choice(HEADER_VARIANTS.get(c, [COLUMNS[c][0]])) for c in cols]
    rows = [[COLUMNS[c][1](p) for c in cols] for p in people]
    if extra:
        for title, values in extra.items():
            header.append(title)
            for row, v in zip(rows, values, strict=True):
                row.append(v)
    entities = {ENTITY[c] for c in cols if c in ENTITY}
    secrets = []
    for p in people:
        secrets.append(p.name)
        for c in cols:
            if c in ENTITY:
                secrets.append(COLUMNS[c][1](p))
    return [header, *rows], entities, secrets


def some_people(ctx: Ctx, lo: int, hi: int, **kw) -> list[Person]:
    return [ctx.resident(**kw) for _ in range(ctx.rng.randint(lo, hi))]


def outside_recipient(ctx: Ctx, sender: cc.Staff):
    """Someone outside the council and its partners who should not get the data."""
    how = ctx.choice(["supplier", "charity", "personal", "home"])
    if how == "home":  # the sender's own personal address
        r = ctx.resident(
            domain=ctx.choice(["gmail.com", "hotmail.co.uk", "outlook.com", "yahoo.co.uk"])
        )
        local = f"{sender.first.lower()}.{sender.last.lower()}{ctx.rng.randint(1, 99)}"
        return (sender.name, f"{local}@{r.email.split('@')[1]}")
    if how == "personal":
        r = ctx.resident()
        return (r.name, r.email)
    c = ctx.contact(how)
    return (c.name, c.email)


LIST_PURPOSES = [
    (
        "Flu clinic list",
        "Here is the list of residents for the flu clinic next week.",
        ["name", "dob", "nhs"],
    ),
    (
        "Mailing list for the survey",
        "Attached is the data for the survey mailing - please can you print and post?",
        ["name", "address", "postcode", "dob"],
    ),
    (
        "Data for migration test",
        "As discussed, a sample extract so you can test the import before go-live.",
        ["name", "dob", "nino", "address", "postcode"],
    ),
    (
        "Blue Badge renewals",
        "The renewals due next quarter, as requested.",
        ["name", "address", "postcode", "dob", "nino"],
    ),
    (
        "Council tax reduction caseload",
        "CTR caseload extract for the audit sample.",
        ["name", "nino", "dob", "address"],
    ),
    (
        "Care home residents",
        "List of residents for the vaccination visits.",
        ["name", "dob", "nhs", "address"],
    ),
    (
        "Tenants list",
        "Tenants' details for the gas safety programme.",
        ["name", "address", "postcode", "phone", "dob"],
    ),
    (
        "Attendees",
        "The list of people booked on to the falls prevention classes.",
        ["first", "last", "dob", "nhs", "phone"],
    ),
]


LIST_SENDERS = {
    "Flu clinic list": ("publichealth", "adults"),
    "Mailing list for the survey": ("comms", "community"),
    "Data for migration test": ("ig", "finance", "revenues"),
    "Blue Badge renewals": ("customer",),
    "Council tax reduction caseload": ("revenues",),
    "Care home residents": ("adults",),
    "Tenants list": ("housing",),
    "Attendees": ("adults", "publichealth"),
}


def _list_mail(ctx: Ctx, fmt: str) -> Sample:
    subject, text, cols = ctx.choice(LIST_PURPOSES)
    s = ctx.staff(*LIST_SENDERS[subject])
    to = outside_recipient(ctx, s)
    people = some_people(ctx, 6, 80 if fmt != "pdf" else 40)
    table, entities, secrets = people_table(ctx, people, cols)
    fname = ctx.choice(
        [
            subject,
            subject.lower().replace(" ", "_"),
            f"{subject} {ctx.today:%b %Y}",
            "export",
            "Book1",
        ]
    )
    if fmt == "xlsx":
        att = Attachment(
            f"{fname}.xlsx",
            docs.xlsx([docs.Sheet(ctx.choice(["Sheet1", "Data", subject[:20]]), table)]),
        )
    elif fmt == "csv":
        att = Attachment(f"{fname}.csv", docs.csv_text(table))
    elif fmt == "pdf":
        att = Attachment(
            f"{fname}.pdf", docs.pdf([("h1", subject), ("table", table)], title=subject)
        )
    else:
        att = Attachment(
            f"{fname}.docx", docs.docx([("h1", subject), ("table", table)], title=subject)
        )
    blocks = [ctx.greet(to[0].split()[0]), ("p", text), *ctx.closing(s)]
    d = Draft(
        (s.name, s.email),
        [to],
        ctx.choice([subject, f"FW: {subject}", f"{subject} - as requested"]),
        blocks,
        ctx.when(),
        attachments=[att],
    )
    return Sample(d, True, "hold", entities, secrets)


@kind("resident_xlsx_external", risky=True, weight=1.2)
def resident_xlsx_external(ctx: Ctx) -> Sample:
    """A spreadsheet of residents with identifiers to an outside address."""
    return _list_mail(ctx, "xlsx")


@kind("resident_csv_external", risky=True)
def resident_csv_external(ctx: Ctx) -> Sample:
    """A CSV export of residents with identifiers to an outside address."""
    return _list_mail(ctx, "csv")


@kind("resident_pdf_external", risky=True)
def resident_pdf_external(ctx: Ctx) -> Sample:
    """A PDF list of residents with identifiers to an outside address."""
    return _list_mail(ctx, "pdf")


@kind("hidden_sheet_personal_data", risky=True)
def hidden_sheet_personal_data(ctx: Ctx) -> Sample:
    """An FOI-style summary whose workbook still has a hidden sheet of people."""
    s = ctx.staff("ig", "adults", "housing", "revenues")
    people = some_people(ctx, 20, 90)
    cols = ctx.choice(
        [
            ["name", "address", "dob", "nino"],
            ["name", "dob", "nhs", "postcode"],
            ["first", "last", "dob", "address"],
        ]
    )
    table, entities, secrets = people_table(
        ctx,
        people,
        cols,
        {"Ward": [ctx.choice(["North", "South", "East", "West", "Central"]) for _ in people]},
    )
    summary = [
        ["Ward", "Number"],
        *[
            [w, sum(1 for r in table[1:] if r[-1] == w)]
            for w in ["North", "South", "East", "West", "Central"]
        ],
    ]
    state = ctx.choice(["hidden", "hidden", "veryHidden"])
    book = docs.xlsx(
        [
            docs.Sheet("Summary", summary),
            docs.Sheet(ctx.choice(["Data", "Sheet2", "raw", "Pivot source"]), table, state=state),
        ]
    )
    ref = f"FOI-{ctx.today:%Y}-{ctx.ref(digits=5)}"
    to = ctx.choice(
        [
            (
                ctx.name(),
                f"request-{ctx.ref(digits=6)}-{ctx.fake.hexify('^^^^^^^^')}@whatdotheyknow.com",
            ),
            outside_recipient(ctx, s),
        ]
    )
    blocks = [
        ctx.greet(to[0].split()[0]),
        (
            "p",
            f"Please find attached the information you requested ({ref}). The figures are broken "
            "down by ward on the Summary sheet.",
        ),
        *ctx.closing(s),
    ]
    d = Draft(
        (s.name, s.email),
        [to],
        f"{ref} - response",
        blocks,
        ctx.when(),
        attachments=[Attachment(f"{ref}.xlsx", book)],
    )
    return Sample(d, True, "hold", entities, secrets)


@kind("hidden_rows_columns", risky=True)
def hidden_rows_columns(ctx: Ctx) -> Sample:
    """A spreadsheet whose hidden columns (or rows) still hold identifiers."""
    s = ctx.staff()
    to = outside_recipient(ctx, s)
    people = some_people(ctx, 8, 60)
    cols = (
        ["name", "postcode", "dob", "nino"]
        if ctx.chance(0.5)
        else ["name", "postcode", "nhs", "dob"]
    )
    table, entities, secrets = people_table(
        ctx, people, cols, {"Amount": [ctx.money(10, 500) for _ in people]}
    )
    if ctx.chance(0.6):
        sheet = docs.Sheet("Payments", table, hidden_columns=["C", "D"])
    else:  # the identifiers are in the visible columns, the rows with people are hidden
        sheet = docs.Sheet("Payments", table, hidden_rows=list(range(2, len(table) + 1)))
        sheet.rows.append(["Total", "", "", "", ""])
    blocks = [
        ctx.greet(to[0].split()[0]),
        (
            "p",
            ctx.choice(
                [
                    "The payment schedule is attached.",
                    "Attached is the summary you asked for - totals at the bottom.",
                    "Here's the spreadsheet for the grant payments.",
                ]
            ),
        ),
        *ctx.closing(s),
    ]
    d = Draft(
        (s.name, s.email),
        [to],
        ctx.choice(["Payment schedule", "Spreadsheet", "Summary"]),
        blocks,
        ctx.when(),
        attachments=[
            Attachment(
                ctx.choice(["schedule.xlsx", "Payments Q1.xlsx", "summary.xlsx"]),
                docs.xlsx([sheet]),
            )
        ],
    )
    return Sample(d, True, "hold", entities, secrets)


# --- special category data about a named person to someone outside --------------------------


# Who, in the council, would know each kind of fact.
SPECIAL_SENDERS = {
    "health": ("adults",),
    "disability": ("adults", "housing"),
    "ethnicity": ("housing", "community"),
    "religion": ("adults", "children"),
    "sexuality": ("housing", "adults"),
    "criminal": ("housing", "children"),
    "safeguarding": ("children",),
}


def _special(ctx: Ctx, category: str) -> Sample:
    s = ctx.staff(*SPECIAL_SENDERS[category])
    p = ctx.resident(
        min_age=18 if category != "safeguarding" else 6,
        max_age=85 if category != "safeguarding" else 16,
    )
    if category == "safeguarding":
        who = p.name if ctx.chance(0.6) else p.first
    else:
        who = p.name if ctx.chance(0.6) else f"{p.title} {p.last}"
    recipient_kind, to = ctx.choice(
        [
            ("landlord", ctx.resident()),
            ("employer", None),
            ("neighbour", ctx.resident()),
            ("club", ctx.resident()),
        ]
    )
    if recipient_kind == "employer":
        c = ctx.contact("supplier")
        to_addr = (c.name, c.email)
    else:
        to_addr = (to.name, to.email)
    facts = {
        "health": [
            f"{who} was admitted to Anytown General last week after an overdose and is now under "
            "the crisis team.",
            f"{who} has been diagnosed with early-onset Alzheimer's and can no longer manage the "
            "tenancy alone.",
            f"I can tell you in confidence that {who} is HIV positive and is being treated at "
            "the Riverside clinic.",
            f"{who} is currently having chemotherapy for breast cancer, which is why the rent "
            "has been late.",
            f"{who} has schizophrenia and was sectioned under the Mental Health Act in March.",
        ],
        "disability": [
            f"{who} has a learning disability and autism and needs someone with them at the "
            "viewing.",
            f"{who} is registered blind and has epilepsy, so the adaptations need to be in place "
            "before the move.",
            f"{who} has a severe learning disability and lacks capacity to sign the agreement.",
        ],
        "ethnicity": [
            f"{who} and the family are Romany Gypsies and have lived on the site at Mill Lane "
            "for years.",
            f"The family are Irish Travellers; {who} has asked for a pitch rather than bricks "
            "and mortar.",
            f"{who} is of Pakistani heritage and the neighbour's comments were racially motivated.",
            f"{who}, who is Black Caribbean, has reported racist abuse from the upstairs flat.",
        ],
        "religion": [
            f"{who} is a Jehovah's Witness and will refuse a blood transfusion if the operation "
            "goes ahead.",
            f"{who} is a practising Muslim and has asked that no male carers visit.",
            f"{who} converted to Sikhism last year, which is part of the family dispute.",
            f"{who} is an Orthodox Jew and cannot attend appointments on a Saturday.",
        ],
        "sexuality": [
            f"{who} is gay and has not told the family, so please don't mention his partner when "
            "you call.",
            f"{who} is a lesbian and is worried about harassment from neighbours since she came "
            "out.",
            f"{who} is bisexual and the abuse from her ex-partner started after he found out.",
        ],
        "criminal": [
            f"{who} was released from HMP Westmoor in January after serving 18 months for "
            "burglary and is on licence.",
            f"{who} is on the sex offenders register and must not live near the primary school.",
            f"{who} has a conviction for assault occasioning actual bodily harm from 2019.",
            f"{who} was cautioned for shoplifting last month and is due in court for a drug "
            "possession charge.",
        ],
        "safeguarding": [
            f"{who} is on a child protection plan for neglect and the social worker visits weekly.",
            f"{who} is the subject of a section 47 enquiry following a disclosure at school.",
            f"{who} has been assessed as at high risk of child sexual exploitation.",
            f"{who} is a looked-after child and is placed with foster carers, so please don't "
            "tell the birth mother where she is.",
        ],
    }[category]
    reason = {
        "landlord": "I am writing about your tenant at the address below.",
        "employer": "Thank you for calling about your employee.",
        "neighbour": "Further to our conversation on the phone yesterday,",
        "club": "Thanks for getting in touch about the sessions.",
    }[recipient_kind]
    blocks = [
        ctx.greet(to_addr[0].split()[0]),
        ("p", f"{reason} {ctx.choice(facts)}"),
        (
            "p",
            ctx.choice(
                [
                    "I would be grateful if you could bear this in mind.",
                    "Please keep this to yourself.",
                    "Let me know if you need anything else from us.",
                    f"Address: {p.street}, {p.postcode}.",
                ]
            ),
        ),
        *ctx.closing(s),
    ]
    entities = {"SPECIAL_CATEGORY"}
    secrets = [p.name]
    if ctx.chance(0.3):
        blocks.insert(2, ("p", f"Date of birth: {p.dob_text()}"))
        entities.add("DATE_OF_BIRTH")
        secrets.append(f"{p.dob:%d/%m/%Y}")
    d = Draft(
        (s.name, s.email),
        [to_addr],
        ctx.choice(["Your tenant", p.name, f"RE: {p.last}", "Confidential", "Following our call"]),
        blocks,
        ctx.when(),
    )
    return Sample(d, True, "hold", entities, secrets)


@kind("special_health", risky=True, weight=1.2)
def special_health(ctx: Ctx) -> Sample:
    """A named person's health to someone outside with no need to know."""
    return _special(ctx, "health")


@kind("special_disability", risky=True)
def special_disability(ctx: Ctx) -> Sample:
    """A named person's disability to someone outside."""
    return _special(ctx, "disability")


@kind("special_ethnicity", risky=True)
def special_ethnicity(ctx: Ctx) -> Sample:
    """A named person's ethnicity to someone outside."""
    return _special(ctx, "ethnicity")


@kind("special_religion", risky=True)
def special_religion(ctx: Ctx) -> Sample:
    """A named person's religion to someone outside."""
    return _special(ctx, "religion")


@kind("special_sexuality", risky=True)
def special_sexuality(ctx: Ctx) -> Sample:
    """A named person's sexuality to someone outside."""
    return _special(ctx, "sexuality")


@kind("special_criminal", risky=True)
def special_criminal(ctx: Ctx) -> Sample:
    """A named person's criminal record to someone outside."""
    return _special(ctx, "criminal")


@kind("special_safeguarding", risky=True)
def special_safeguarding(ctx: Ctx) -> Sample:
    """Safeguarding facts about a named child to someone outside."""
    return _special(ctx, "safeguarding")


# --- the wrong person --------------------------------------------------------------------


@kind("misdirected_letter", risky=True, weight=1.2)
def misdirected_letter(ctx: Ctx) -> Sample:
    """Resident B is sent a letter addressed to resident A."""
    what = ctx.choice(["benefit", "arrears", "assessment"])
    s = ctx.staff({"benefit": "revenues", "arrears": "housing", "assessment": "adults"}[what])
    a = ctx.resident()
    b = ctx.resident()
    claim = ctx.ref("HB", 7)
    if what == "benefit":
        letter = _decision_letter(ctx, ctx.staff("revenues"), a, claim)
        entities, secrets = {"UK_NINO"}, person_secrets(a, "nino")
    elif what == "arrears":
        letter = [
            *_letterhead(
                ctx,
                s,
                [a.name, *a.address_lines],
                ctx.ref("RA", 8),
                "Rent arrears - notice of seeking possession",
            ),
            ("p", f"Dear {a.formal}"),
            (
                "p",
                f"Your rent account is {ctx.money(900, 3000)} in arrears. If you do not contact "
                "us within 14 days we will apply to the County Court for possession of your "
                "home.",
            ),
            ("p", f"Yours sincerely\n{s.name}"),
        ]
        entities, secrets = set(), [a.name]
    else:
        letter = [
            *_letterhead(
                ctx,
                s,
                [a.name, *a.address_lines],
                ctx.ref("ASC", 7),
                "Your care and support assessment",
            ),
            ("p", f"Name: {a.name}\nDate of birth: {a.dob_text()}\nNHS number: {a.nhs}"),
            ("p", f"Dear {a.formal}"),
            (
                "p",
                "Following your assessment, we have agreed a personal budget of "
                f"{ctx.money(120, 600)} a week to meet your eligible needs arising from your "
                "dementia.",
            ),
            ("p", f"Yours sincerely\n{s.name}"),
        ]
        entities, secrets = (
            {"DATE_OF_BIRTH", "UK_NHS", "SPECIAL_CATEGORY"},
            person_secrets(a, "dob", "nhs"),
        )
    fname = ctx.choice(
        [
            "letter.pdf",
            f"{ctx.today:%Y%m%d} letter.pdf",
            "Your letter.docx",
            "Decision.pdf",
            "Letter.docx",
        ]
    )
    data = docs.pdf(letter) if fname.endswith(".pdf") else docs.docx(letter)
    blocks = [
        ctx.greet(b.first, b.formal),
        (
            "p",
            ctx.choice(
                [
                    "Please find your letter attached.",
                    "As promised on the phone, here is a copy of the letter.",
                    "I attach the letter we sent in the post, as requested.",
                ]
            ),
        ),
        *ctx.closing(s),
    ]
    d = Draft(
        (s.name, s.email),
        [(b.name, b.email)],
        ctx.choice(["Your letter", "Copy letter", "As requested"]),
        blocks,
        ctx.when(),
        attachments=[Attachment(fname, data)],
    )
    return Sample(
        d, True, "hold", entities, [*secrets, b.name], note="letter addressed to someone else"
    )


@kind("misdirected_email_body", risky=True)
def misdirected_email_body(ctx: Ctx) -> Sample:
    """An email about Mrs A's son goes to Mrs B (autocomplete picked the wrong resident)."""
    s = ctx.staff("children", "adults")
    a = ctx.resident(min_age=25, max_age=50, female=True)
    b = ctx.resident(min_age=25, max_age=70)
    kid = ctx.child(a.last)
    fact = ctx.choice(
        [
            f"the assessment confirmed that {kid.first} has autism spectrum disorder and ADHD",
            f"{kid.first}'s referral to CAMHS for anxiety and self-harm has been accepted",
            f"{kid.first}'s EHCP will now name the specialist school because of his epilepsy",
        ]
    )
    blocks = [
        ctx.greet(a.first, a.formal),
        ("p", f"Re: {kid.name}, date of birth {kid.dob_text()}"),
        ("p", f"I'm pleased to let you know that {fact}. I will send the full report in the post."),
        *ctx.closing(s),
    ]
    d = Draft(
        (s.name, s.email),
        [(f"{b.first} {b.last}", b.email)],
        f"{kid.first} - update",
        blocks,
        ctx.when(),
    )
    return Sample(
        d,
        True,
        "hold",
        {"SPECIAL_CATEGORY", "DATE_OF_BIRTH"},
        [kid.name, a.name, f"{kid.dob:%d/%m/%Y}"],
        note="greeting names someone other than the recipient",
    )


# --- visible lists -----------------------------------------------------------------------

ORDINARY_TOPICS = [
    (
        "Landlord forum - next meeting",
        "The next landlord forum is on {date} at County Hall. Topics include the new licensing "
        "scheme and energy efficiency grants.",
    ),
    (
        "Play area consultation",
        "Thank you for taking part in the consultation on the Mill Lane play area. The results "
        "will be published next month.",
    ),
    (
        "Roadworks on your street",
        "Resurfacing works on your road start on {date}. Please move vehicles by 7am.",
    ),
    (
        "Allotment site meeting",
        "There will be a meeting for plot holders at the Mill Lane site on {date} at 6pm.",
    ),
    (
        "Volunteer litter pick",
        "Thanks for volunteering for the litter pick on {date}. Meet at the park gates at 10am.",
    ),
    (
        "Community grant applications",
        "Thank you for your grant application. Decisions will be made by {date}.",
    ),
]
REVEALING_TOPICS = [
    (
        "Rent arrears support session",
        "As tenants with rent arrears, you are invited to a money advice session on {date}.",
    ),
    (
        "Temporary accommodation update",
        "As families currently in temporary accommodation, you may be affected by the move from "
        "the Station Road hostel on {date}.",
    ),
    (
        "Foster carers' training",
        "As approved foster carers, please book on the therapeutic parenting course starting "
        "{date}.",
    ),
    (
        "Carers' support group",
        "Welcome to the carers' support group. Our next meeting for those of you caring for a "
        "relative with dementia is on {date}.",
    ),
    (
        "Council tax enforcement",
        "Our records show that each of you has an outstanding council tax liability order. "
        "Please contact us before {date} to avoid enforcement agents being instructed.",
    ),
    (
        "SEND parents' forum",
        "As parents of children with an EHCP, you are invited to the SEND forum on {date}.",
    ),
]


VISIBLE_SENDERS = {
    "Landlord forum - next meeting": ("housing",),
    "Rent arrears support session": ("housing",),
    "Temporary accommodation update": ("housing",),
    "Foster carers' training": ("children",),
    "Carers' support group": ("adults",),
    "Council tax enforcement": ("revenues",),
    "SEND parents' forum": ("children",),
}


def _visible(ctx: Ctx, lo: int, hi: int, topics) -> tuple[Draft, list]:
    subject, text = ctx.choice(topics)
    s = ctx.staff(*VISIBLE_SENDERS.get(subject, ("community",)))
    people = {p.email: p for p in (ctx.resident() for _ in range(hi + 3))}
    people_list = list(people.values())[: ctx.rng.randint(lo, hi)]
    blocks = [
        ("p", ctx.choice(["Dear all", "Hello everyone", "Dear residents", "Hi all"])),
        ("p", text.format(date=ctx.day(ctx.date_ahead(5, 30)))),
        *ctx.closing(s),
    ]
    to = [(p.name, p.email) for p in people_list]
    cc_list = []
    if ctx.chance(0.3):
        cut = len(to) // 2
        to, cc_list = to[:cut], to[cut:]
    d = Draft((s.name, s.email), to, subject, blocks, ctx.when(), cc=cc_list)
    return d, people_list


@kind("visible_list_small", risky=True, weight=1.2)
def visible_list_small(ctx: Ctx) -> Sample:
    """5-9 private individuals at personal addresses, all visible to each other."""
    d, _ = _visible(ctx, 5, 9, ORDINARY_TOPICS)
    return Sample(d, True, "rewrite", set(), [])


@kind("visible_list_large", risky=True)
def visible_list_large(ctx: Ctx) -> Sample:
    """More than 10 private individuals visible to each other."""
    d, _ = _visible(ctx, 11, 35, ORDINARY_TOPICS)
    return Sample(d, True, "rewrite", set(), [])


@kind("visible_list_revealing", risky=True)
def visible_list_revealing(ctx: Ctx) -> Sample:
    """A visible list whose text says what the people have in common."""
    d, _ = _visible(ctx, 5, 25, REVEALING_TOPICS)
    return Sample(d, True, "hold", set(), [])


# --- look-alike and mistyped domains -------------------------------------------------------

WEBMAIL_TYPOS = {
    "gmail.com": ["gmial.com", "gmai.com", "gmail.co", "gmaill.com", "gnail.com", "gmail.con"],
    "hotmail.co.uk": [
        "hotmial.co.uk",
        "hotmail.co",
        "hotmal.co.uk",
        "hotmail.co.uk.com",
        "hotamil.co.uk",
    ],
    "outlook.com": ["outlok.com", "outloo.com", "outlook.co", "outllook.com"],
    "yahoo.co.uk": ["yaho.co.uk", "yahooo.co.uk", "yahoo.co", "yhaoo.co.uk"],
    "btinternet.com": ["btinternt.com", "btinternet.co.uk", "btintenet.com"],
    "icloud.com": ["icoud.com", "iclod.com", "icloud.co"],
    "hotmail.com": ["hotmial.com", "hotmai.com", "hotmil.com"],
}


def _own_data_letter(ctx: Ctx, s: cc.Staff, r: Person) -> tuple[list, set[str], list[str], str]:
    # What each service holds about a resident: benefits their NINO and decision letters,
    # social care their NHS number.
    choice = ctx.choice(
        {"revenues": ["decision", "nino"], "adults": ["dob"]}.get(s.dept, ["nino", "decision"])
    )
    if choice == "decision":
        claim = ctx.ref("HB", 7)
        letter = _decision_letter(ctx, ctx.staff("revenues"), r, claim)
        name = ctx.choice(["Decision notice.pdf", f"{claim}.pdf", "letter.docx"])
        data = docs.pdf(letter) if name.endswith(".pdf") else docs.docx(letter)
        body = [("p", "Please find attached your decision letter.")]
        return (
            [*body, ("att", Attachment(name, data))],
            {"UK_NINO"},
            person_secrets(r, "nino"),
            "Your decision letter",
        )
    if choice == "dob":
        return (
            [
                (
                    "p",
                    f"We have updated your record: {r.name}, date of birth {r.dob_text()}, NHS "
                    f"number {r.nhs}, {r.street}, {r.postcode}.",
                )
            ],
            {"DATE_OF_BIRTH", "UK_NHS"},
            person_secrets(r, "dob", "nhs"),
            "Your details",
        )
    return (
        [
            (
                "p",
                f"For your records, we hold your National Insurance number as {r.nino} and your "
                f"date of birth as {r.dob_text()}. Please tell us if either is wrong.",
            )
        ],
        {"UK_NINO", "DATE_OF_BIRTH"},
        person_secrets(r, "nino", "dob"),
        "Checking your details",
    )


@kind("typo_webmail_with_data", risky=True, weight=1.2)
def typo_webmail_with_data(ctx: Ctx) -> Sample:
    """A resident's own data sent to a misspelling of their webmail provider."""
    s = ctx.staff("revenues", "housing", "adults", "customer")
    provider = ctx.choice(list(WEBMAIL_TYPOS))
    r = ctx.resident(domain=provider)
    typo = ctx.choice(WEBMAIL_TYPOS[provider])
    wrong = r.email.split("@")[0] + "@" + typo
    body, entities, secrets, subject = _own_data_letter(ctx, s, r)
    atts = [b[1] for b in body if b[0] == "att"]
    blocks = [ctx.greet(r.first, r.formal), *[b for b in body if b[0] != "att"], *ctx.closing(s)]
    d = Draft((s.name, s.email), [(r.name, wrong)], subject, blocks, ctx.when(), attachments=atts)
    return Sample(d, True, "hold", entities, secrets, note=f"{provider} mistyped as {typo}")


SUFFIX_SWAPS = {
    "westvale.gov.uk": ["westvale.gov.co.uk", "westvale.co.uk", "westvale.org.uk"],
    "northdown.gov.uk": ["northdown.gov.co.uk", "northdown.co.uk", "northdown-gov.uk"],
    "anyshirehousingtrust.org.uk": [
        "anyshirehousingtrust.co.uk",
        "anyshirehousingtrust.org",
        "anyshirehousingtrust.uk",
    ],
    "anyshire.police.uk": ["anyshire.police.co.uk", "anyshire-police.uk", "anyshirepolice.co.uk"],
    "anyshirefire.gov.uk": ["anyshirefire.co.uk", "anyshirefire.gov.co.uk", "anyshirefire.org.uk"],
    "nhs.net": ["nhs.net.uk", "nhs.co.uk", "nhs-net.com"],
}


def _case_referral(ctx: Ctx, s: cc.Staff, first: str) -> tuple[list, set[str], list[str]]:
    p = ctx.resident(min_age=20)
    what = ctx.choice(
        [
            f"{p.name} (DOB {p.dob_text()}, NHS number {p.nhs}) was discharged on Friday. She "
            "has advanced COPD and lives alone; can your team pick up the follow-up?",
            f"Referral: {p.name}, DOB {p.dob_text()}, NI number {p.nino}. Fleeing domestic abuse "
            "with two children, currently in emergency accommodation.",
            f"As discussed, {p.name} ({p.dob_text()}) has been assessed as at high risk of harm "
            f"from her ex-partner. NHS no. {p.nhs}.",
        ]
    )
    entities = {"DATE_OF_BIRTH"}
    if "NHS" in what:
        entities.add("UK_NHS")
    if "NI number" in what:
        entities.add("UK_NINO")
    if any(w in what for w in ("COPD", "domestic abuse", "risk of harm")):
        entities.add("SPECIAL_CATEGORY")
    secrets = (
        person_secrets(p, "dob")
        + ([p.nhs] if "UK_NHS" in entities else [])
        + ([p.nino] if "UK_NINO" in entities else [])
    )
    return [ctx.greet(first), ("p", what), ("p", "Many thanks.")], entities, secrets


@kind("partner_suffix_swap", risky=True, weight=1.2)
def partner_suffix_swap(ctx: Ctx) -> Sample:
    """A single-case referral to a partner, with the partner's domain suffix changed."""
    s = ctx.staff("adults", "children", "housing")
    real = ctx.choice(list(SUFFIX_SWAPS))
    c = ctx.choice(ctx.world.org(real).contacts)
    wrong = c.email.split("@")[0] + "@" + ctx.choice(SUFFIX_SWAPS[real])
    blocks, entities, secrets = _case_referral(ctx, s, c.first)
    d = Draft(
        (s.name, s.email),
        [(c.name, wrong)],
        ctx.choice(["Referral", "Secure: referral", "Case - for your action"]),
        [*blocks, *ctx.closing(s)],
        ctx.when(),
    )
    return Sample(d, True, "hold", entities, secrets, note=f"{real} -> {wrong.split('@')[1]}")


INTERNAL_LOOKALIKES = [
    "anyshire.gov.co.uk",
    "anyshire-gov.uk",
    "anyshlre.gov.uk",
    "anyshire.org.uk",
    "anyshire.co.uk",
    "anyshiregov.uk",
    "anyshire.gov.uk.co",
    "any-shire.gov.uk",
    "anyshire.gv.uk",
]


@kind("internal_lookalike", risky=True)
def internal_lookalike(ctx: Ctx) -> Sample:
    """A case email meant for a colleague, to a look-alike of the council's own domain."""
    s = ctx.staff("adults", "children", "housing", "revenues")
    colleague = ctx.choice(s.colleagues)
    wrong = colleague.email.split("@")[0] + "@" + ctx.choice(INTERNAL_LOOKALIKES)
    blocks, entities, secrets = _case_referral(ctx, s, colleague.first)
    d = Draft(
        (s.name, s.email),
        [(colleague.name, wrong)],
        ctx.choice(["Case update", "For allocation", "FYI"]),
        [*blocks, *ctx.closing(s, external=False)],
        ctx.when(),
    )
    return Sample(d, True, "hold", entities, secrets)


@kind("near_miss_contact", risky=True)
def near_miss_contact(ctx: Ctx) -> Sample:
    """A referral to a new address one slip from a partner contact the sender writes to often."""
    caseworkers = ctx.world.staff_in("adults", "children", "housing")
    s = ctx.choice([x for x in caseworkers if any(c.org.partner for c in x.contacts)])
    c = ctx.choice([c for c in s.contacts if c.org.partner])
    local, domain = c.email.split("@")
    how = ctx.choice(["drop", "swap", "double", "digit"])
    i = ctx.rng.randrange(1, len(local) - 1)
    if how == "drop":
        wrong = local[:i] + local[i + 1 :]
    elif how == "swap":
        wrong = local[: i - 1] + local[i] + local[i - 1] + local[i + 1 :]
    elif how == "double":
        wrong = local[:i] + local[i] + local[i:]
    else:
        wrong = local.rstrip("0123456789") + str(ctx.rng.randint(1, 9))
    if wrong == local or wrong.startswith(".") or ".." in wrong:
        wrong = local + "1"
    blocks, entities, secrets = _case_referral(ctx, s, c.first)
    d = Draft(
        (s.name, s.email),
        [(c.name, f"{wrong}@{domain}")],
        ctx.choice(["Referral", "RE: referral", "Case"]),
        [*blocks, *ctx.closing(s)],
        ctx.when(),
    )
    return Sample(d, True, "hold", entities, secrets, note=f"{c.email} -> {wrong}@{domain}")


# --- tables that are not files, and files that are unusual --------------------------------


def _patients(ctx: Ctx, lo: int, hi: int) -> tuple[list[list[str]], set[str], list[str]]:
    people = some_people(ctx, lo, hi, min_age=60)
    cols = ctx.choice(
        [
            ["name", "dob", "nhs"],
            ["name", "nhs", "dob", "postcode"],
            ["last", "first", "dob", "nhs"],
        ]
    )
    return people_table(ctx, people, cols)


def _patient_recipient(ctx: Ctx, s: cc.Staff):
    return ctx.choice(
        [
            outside_recipient(ctx, s),
            (
                ctx.name(),
                "manager@"
                + ctx.choice(
                    ["oakleighcarehome.co.uk", "sunnysidecare.co.uk", "thelimesnursing.com"]
                ),
            ),
        ]
    )


@kind("pasted_rows_body", risky=True, weight=1.3)
def pasted_rows_body(ctx: Ctx) -> Sample:
    """3-6 patients' names, dates of birth and NHS numbers pasted into the body."""
    s = ctx.staff("adults", "publichealth")
    to = _patient_recipient(ctx, s)
    table, entities, secrets = _patients(ctx, 3, 6)
    sep = ctx.choice(["\t", ", ", ","])
    header = ctx.chance(0.6)
    rows = table if header else table[1:]
    blocks = [
        ctx.greet(to[0].split()[0]),
        (
            "p",
            ctx.choice(
                [
                    "Here are the people for Thursday's visits:",
                    "These are the ones still outstanding:",
                    "Can you check these against your list?",
                    "The residents we discussed:",
                ]
            ),
        ),
    ]
    if sep == "\t" and ctx.chance(0.5):
        blocks.append(("table", rows))  # pasted from Excel: a table in HTML, tabs in plain text
    else:
        blocks.append(("lines", "\n".join(sep.join(r) for r in rows)))
    blocks += ctx.closing(s)
    d = Draft(
        (s.name, s.email),
        [to],
        ctx.choice(["List", "Visits Thursday", "Outstanding", "As discussed"]),
        blocks,
        ctx.when(),
    )
    return Sample(d, True, "hold", entities, secrets)


@kind("patient_rows_txt", risky=True)
def patient_rows_txt(ctx: Ctx) -> Sample:
    """The same handful of patients as a .txt or .tsv attachment."""
    s = ctx.staff("adults", "publichealth")
    to = _patient_recipient(ctx, s)
    table, entities, secrets = _patients(ctx, 3, 8)
    sep = ctx.choice(["\t", ","])
    text = "\r\n".join(sep.join(r) for r in table) + "\r\n"
    name = ctx.choice(
        [
            "list.txt",
            "patients.txt",
            "outstanding.tsv" if sep == "\t" else "outstanding.txt",
            "export.txt",
        ]
    )
    blocks = [ctx.greet(to[0].split()[0]), ("p", "List attached."), *ctx.closing(s)]
    d = Draft(
        (s.name, s.email),
        [to],
        ctx.choice(["List", "Patients", "Outstanding"]),
        blocks,
        ctx.when(),
        attachments=[Attachment(name, text.encode("utf-8"), "text/plain")],
    )
    return Sample(d, True, "hold", entities, secrets)


@kind("unicode_text_export", risky=True)
def unicode_text_export(ctx: Ctx) -> Sample:
    """Excel's "Unicode Text" export (UTF-16 LE with BOM, tabs) as .txt or .csv."""
    s = ctx.staff()
    to = outside_recipient(ctx, s)
    people = some_people(ctx, 5, 60)
    cols = ctx.choice(
        [
            ["name", "dob", "nino", "postcode"],
            ["name", "nhs", "dob"],
            ["first", "last", "dob", "nino", "address"],
        ]
    )
    table, entities, secrets = people_table(ctx, people, cols)
    name = ctx.choice(["export.txt", "Book1.txt", "residents.csv", "data.csv", "list.txt"])
    blocks = [
        ctx.greet(to[0].split()[0]),
        (
            "p",
            ctx.choice(
                [
                    "Data attached as requested.",
                    "Here's the export.",
                    "Attached - saved as text as the system wouldn't do xlsx.",
                ]
            ),
        ),
        *ctx.closing(s),
    ]
    d = Draft(
        (s.name, s.email),
        [to],
        ctx.choice(["Export", "Data", "As requested"]),
        blocks,
        ctx.when(),
        attachments=[
            Attachment(
                name,
                docs.unicode_text(table),
                "text/plain" if name.endswith(".txt") else "text/csv",
            )
        ],
    )
    return Sample(d, True, "hold", entities, secrets)


@kind("pptx_people_table", risky=True)
def pptx_people_table(ctx: Ctx) -> Sample:
    """A slide deck with a table of named people and their identifiers."""
    s = ctx.staff("adults", "children", "publichealth")
    to = ctx.choice(
        [
            outside_recipient(ctx, s),
            (ctx.name(), f"events@{ctx.choice(['carecongress.co.uk', 'lgtraining.co.uk'])}"),
        ]
    )
    people = some_people(ctx, 4, 12)
    cols = ctx.choice(
        [["name", "dob", "nhs"], ["name", "dob", "nino"], ["name", "dob", "postcode", "nhs"]]
    )
    table, entities, secrets = people_table(ctx, people, cols)
    deck = docs.pptx(
        [
            ("Case review", "Learning from our caseload\nQ2 review", None),
            ("Cases discussed", "", table),
            ("Next steps", "Actions agreed with partners", None),
        ]
    )
    blocks = [
        ctx.greet(to[0].split()[0]),
        ("p", "Slides from this morning attached."),
        *ctx.closing(s),
    ]
    d = Draft(
        (s.name, s.email),
        [to],
        ctx.choice(["Slides", "Presentation", "Case review slides"]),
        blocks,
        ctx.when(),
        attachments=[Attachment(ctx.choice(["Case review.pptx", "slides.pptx"]), deck)],
    )
    return Sample(d, True, "hold", entities, secrets)


@kind("html_table_residents", risky=True)
def html_table_residents(ctx: Ctx) -> Sample:
    """An HTML table of residents with identifiers in the body."""
    s = ctx.staff()
    to = outside_recipient(ctx, s)
    people = some_people(ctx, 5, 20)
    cols = ctx.choice(
        [
            ["name", "dob", "nino"],
            ["name", "address", "dob", "nhs"],
            ["name", "dob", "nino", "phone"],
        ]
    )
    table, entities, secrets = people_table(ctx, people, cols)
    blocks = [
        ctx.greet(to[0].split()[0]),
        ("p", "Please see the list below."),
        ("table", table),
        *ctx.closing(s),
    ]
    d = Draft(
        (s.name, s.email),
        [to],
        ctx.choice(["List", "Names for Monday", "Details"]),
        blocks,
        ctx.when(),
        fmt=ctx.choice(["html", "alternative"]),
    )
    return Sample(d, True, "hold", entities, secrets)


@kind("docx_service_users", risky=True)
def docx_service_users(ctx: Ctx) -> Sample:
    """A Word table of service users with their diagnoses to someone outside."""
    s = ctx.staff("adults", "publichealth")
    to = outside_recipient(ctx, s)
    people = some_people(ctx, 5, 25)
    diag = [
        ctx.choice(
            [
                "Dementia",
                "Schizophrenia",
                "Learning disability",
                "Bipolar disorder",
                "Alcohol dependency",
                "Autism",
                "Depression",
                "Multiple sclerosis",
            ]
        )
        for _ in people
    ]
    cols = ctx.choice([["name", "dob"], ["name", "dob", "nhs"], ["name", "address", "dob"]])
    table, entities, secrets = people_table(
        ctx, people, cols, {ctx.choice(["Diagnosis", "Primary need", "Condition"]): diag}
    )
    entities.add("SPECIAL_CATEGORY")
    doc = docs.docx(
        [("h1", "Day opportunities - current attendees"), ("table", table)], title="Attendees"
    )
    blocks = [
        ctx.greet(to[0].split()[0]),
        ("p", "The current attendee list is attached for planning the trips."),
        *ctx.closing(s),
    ]
    d = Draft(
        (s.name, s.email),
        [to],
        "Attendee list",
        blocks,
        ctx.when(),
        attachments=[Attachment("Attendees.docx", doc)],
    )
    return Sample(d, True, "hold", entities, secrets)


@kind("caseload_to_home_email", risky=True)
def caseload_to_home_email(ctx: Ctx) -> Sample:
    """A social worker emails their caseload to their own personal address."""
    s = ctx.staff("adults", "children", "housing")
    local = ctx.choice(
        [
            f"{s.first.lower()}.{s.last.lower()}",
            f"{s.first.lower()}{s.last.lower()}{ctx.rng.randint(1, 99)}",
            f"{s.first[0].lower()}{s.last.lower()}",
        ]
    )
    home = f"{local}@{ctx.choice(['gmail.com', 'hotmail.co.uk', 'icloud.com', 'outlook.com'])}"
    people = some_people(ctx, 8, 30)
    cols = ctx.choice(
        [["name", "dob", "nhs", "address"], ["name", "dob", "nino", "address", "phone"]]
    )
    table, entities, secrets = people_table(ctx, people, cols)
    blocks = [("p", ctx.choice(["to work on at home", "for the weekend", "caseload", ""]))]
    d = Draft(
        (s.name, s.email),
        [(s.name, home)],
        ctx.choice(["caseload", "work", "for home", "list"]),
        blocks,
        ctx.when(),
        attachments=[Attachment("caseload.xlsx", docs.xlsx([docs.Sheet("Caseload", table)]))],
    )
    return Sample(d, True, "hold", entities, secrets)


@kind("forwarded_chain_with_table", risky=True)
def forwarded_chain_with_table(ctx: Ctx) -> Sample:
    """An internal thread with a list of residents, forwarded outside."""
    s = ctx.staff()
    colleague = ctx.choice(s.colleagues)
    c = ctx.contact("supplier", "charity")
    when = ctx.when()
    people = some_people(ctx, 5, 15)
    table, entities, secrets = people_table(
        ctx, people, ctx.choice([["name", "dob", "nino"], ["name", "address", "dob", "nhs"]])
    )
    inner = Quote(
        (colleague.name, colleague.email),
        [(s.name, s.email)],
        ctx.earlier(when),
        "Letters to send",
        [
            ("p", f"{s.first}, these are the ones who need the letter:"),
            ("table", table),
            ("p", colleague.first),
        ],
    )
    blocks = [
        ctx.greet(c.first),
        (
            "p",
            ctx.choice(
                [
                    "Please can you send the letters to the people below?",
                    "See below - can you post these out this week?",
                ]
            ),
        ),
        *ctx.closing(s),
        ("quote", inner),
    ]
    d = Draft((s.name, s.email), [(c.name, c.email)], "FW: Letters to send", blocks, when)
    return Sample(d, True, "hold", entities, secrets)


@kind("resident_bank_to_third_party", risky=True)
def resident_bank_to_third_party(ctx: Ctx) -> Sample:
    """A resident's bank details sent to someone else."""
    s = ctx.staff("adults", "revenues", "housing", "finance")
    r = ctx.resident()
    to = ctx.choice(
        [
            outside_recipient(ctx, s),
            (
                ctx.name(),
                f"accounts@{ctx.choice(['swiftremovals.co.uk', 'homefinders-lettings.co.uk'])}",
            ),
        ]
    )
    use_iban = ctx.chance(0.3)
    details = f"Account name: {r.name}\nSort code: {r.sort_code}\nAccount number: {r.account}" + (
        f"\nIBAN: {r.iban}" if use_iban else ""
    )
    blocks = [
        ctx.greet(to[0].split()[0]),
        (
            "p",
            ctx.choice(
                [
                    f"Please pay the deposit refund for {r.formal} into the account below:",
                    f"{r.name}'s bank details for the direct payment are:",
                    "Here are the bank details you asked for:",
                ]
            ),
        ),
        ("lines", details),
        *ctx.closing(s),
    ]
    entities = {"UK_SORT_CODE", "UK_BANK_ACCOUNT"} | ({"IBAN_CODE"} if use_iban else set())
    d = Draft(
        (s.name, s.email),
        [to],
        ctx.choice(["Bank details", "Payment details", f"{r.last} - refund"]),
        blocks,
        ctx.when(),
    )
    return Sample(
        d,
        True,
        "hold",
        entities,
        person_secrets(r, "sort_code", "account") + ([r.iban] if use_iban else []),
    )


@kind("card_details_email", risky=True, weight=0.8)
def card_details_email(ctx: Ctx) -> Sample:
    """A resident's card number typed into an email."""
    s = ctx.staff("customer", "revenues", "community", "finance")
    r = ctx.resident()
    to = ctx.choice(
        [
            outside_recipient(ctx, s),
            (
                ctx.name(),
                f"payments@{ctx.choice(['paycentre-services.co.uk', 'brightwater-fm.co.uk'])}",
            ),
        ]
    )
    exp = f"{ctx.rng.randint(1, 12):02d}/{(ctx.today.year + ctx.rng.randint(1, 4)) % 100:02d}"
    blocks = [
        ctx.greet(to[0].split()[0]),
        (
            "p",
            f"{r.formal} phoned to pay but the system was down. Card details: {r.card}, expiry "
            f"{exp}. Please take {ctx.money(30, 400)} for invoice {ctx.ref('91', 8)}.",
        ),
        *ctx.closing(s),
    ]
    d = Draft(
        (s.name, s.email),
        [to],
        ctx.choice(["Payment", "Card payment", "Please process"]),
        blocks,
        ctx.when(),
    )
    return Sample(d, True, "hold", {"CREDIT_CARD"}, [r.name, r.card])


@kind("id_documents_list", risky=True)
def id_documents_list(ctx: Ctx) -> Sample:
    """Applicants' passport and driving licence numbers to a recruitment agency."""
    s = ctx.staff("hr")
    c = ctx.choice(
        [
            (
                ctx.name(),
                f"{ctx.fake.user_name()}@"
                + ctx.choice(["staffline-recruit.co.uk", "gmail.com", "careerpathagency.com"]),
            )
        ]
    )
    people = some_people(ctx, 5, 14, min_age=20, max_age=60)
    table, entities, secrets = people_table(
        ctx,
        people,
        ctx.choice(
            [
                ["name", "dob", "passport", "licence"],
                ["name", "passport", "dob"],
                ["name", "licence", "dob"],
            ]
        ),
    )
    body = ctx.choice(["table", "xlsx"])
    blocks = [
        ctx.greet(c[0].split()[0]),
        ("p", "Right to work and DBS check details for the new starters:"),
    ]
    atts = []
    if body == "table":
        blocks.append(("table", table))
    else:
        atts.append(Attachment("new starters.xlsx", docs.xlsx([docs.Sheet("Starters", table)])))
    blocks += ctx.closing(s)
    d = Draft((s.name, s.email), [c], "New starters - checks", blocks, ctx.when(), attachments=atts)
    return Sample(d, True, "hold", entities, secrets)


@kind("case_minutes_to_outsider", risky=True)
def case_minutes_to_outsider(ctx: Ctx) -> Sample:
    """Child protection conference minutes sent to someone outside the partnership."""
    s = ctx.staff("children")
    kid = ctx.child(min_age=5, max_age=15)
    mum = ctx.resident(min_age=20, max_age=45, female=True)
    to = outside_recipient(ctx, s)
    minutes = [
        ("Title", "Initial Child Protection Conference - minutes"),
        (
            "p",
            f"Child: {kid.name}\nDate of birth: {kid.dob_text()}\nAddress: {mum.street}, "
            f"{mum.postcode}",
        ),
        ("p", f"Present: {mum.name} (mother), social worker, health visitor, school DSL, police"),
        ("h2", "Concerns"),
        (
            "p",
            f"Domestic abuse between {mum.first} and her former partner; {mum.first}'s alcohol "
            f"misuse and depression; {kid.first}'s school attendance is 71%.",
        ),
        ("h2", "Decision"),
        (
            "p",
            f"{kid.first} to be made subject to a child protection plan under the category of "
            "emotional abuse.",
        ),
    ]
    fname = "ICPC minutes.docx" if ctx.chance(0.6) else "ICPC minutes.pdf"
    data = docs.docx(minutes) if fname.endswith("docx") else docs.pdf(minutes)
    blocks = [
        ctx.greet(to[0].split()[0]),
        ("p", "Please find the conference minutes attached."),
        *ctx.closing(s),
    ]
    d = Draft(
        (s.name, s.email),
        [to],
        "ICPC minutes",
        blocks,
        ctx.when(),
        attachments=[Attachment(fname, data)],
    )
    return Sample(
        d,
        True,
        "hold",
        {"DATE_OF_BIRTH", "SPECIAL_CATEGORY"},
        [kid.name, mum.name, f"{kid.dob:%d/%m/%Y}"],
    )


@kind("big_visible_with_data", risky=True, weight=0.7)
def big_visible_with_data(ctx: Ctx) -> Sample:
    """A visible list of more than 10 residents, with a spreadsheet of their details."""
    d, people = _visible(ctx, 11, 25, ORDINARY_TOPICS)
    table, entities, secrets = people_table(ctx, people, ["name", "address", "dob"])
    d.attachments.append(Attachment("attendees.xlsx", docs.xlsx([docs.Sheet("Attendees", table)])))
    return Sample(d, True, "hold", entities, secrets)
