"""The fictional council, its staff, partners and suppliers, built once per seed.

Anyshire County Council (anyshire.gov.uk) is a two-tier county: West Vale and
Northdown are its district councils; it shares single cases with the NHS, the
police, the fire service, probation, the DWP and its housing trust (the partner
domains of its site policy) and buys from ordinary companies (which are not).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from faker import Faker

from tests.support.corpus.ids import _ascii, gb_iban

NAME = "Anyshire County Council"
SHORT = "Anyshire"
DOMAIN = "anyshire.gov.uk"
WEB = "www.anyshire.gov.uk"
HQ = ("County Hall", "Castle Street", "Anytown", "AN1 1CC")
SITES = [
    "Riverside House, 12 Mill Lane, Kingsbridge Vale AN4 7QT",
    "Marlow Heath Customer Service Centre, 3 Market Place, Marlow Heath AN7 2DL",
    "The Old Library, 44 Church Street, Ashcombe AN9 3PB",
]
SWITCHBOARD = "01632 960000"
CONTACT_CENTRE = "01632 960123"
TEXTPHONE = "18001 01632 960123"
BANK_NAME = "Lloyds Bank plc, 1 High Street, Anytown AN1 1AB"
BANK_SORT = "30-96-47"
BANK_ACCOUNT = "01864257"
BANK_IBAN = gb_iban(random.Random(0), BANK_SORT, BANK_ACCOUNT, bank="LOYD")
PENSION_SORT = "30-96-47"
PENSION_ACCOUNT = "21377049"
SWIFT = "LOYDGB21157"

# Regular correspondents who are not partners: planning agents and parish councils.
PLANNING_AGENTS = ["hartarchitects.co.uk", "planningbureau.co.uk", "vale-design.co.uk"]
PARISHES = [
    ("Ashcombe", "ashcombe-pc.gov.uk"),
    ("Oakhurst", "oakhurst-pc.gov.uk"),
    ("Little Brancaster", "littlebrancaster-pc.gov.uk"),
]
# Where residents who write in other languages often have their mail.
FOREIGN_WEBMAIL = ["wp.pl", "o2.pl", "interia.pl", "yahoo.ro", "gmail.com"]

PARTNER_DOMAINS = [
    "nhs.net",
    "anyshire.police.uk",
    "westvale.gov.uk",
    "northdown.gov.uk",
    "anyshirefire.gov.uk",
    "justice.gov.uk",
    "dwp.gov.uk",
    "anyshirehousingtrust.org.uk",
]


@dataclass
class Org:
    name: str
    domain: str
    partner: bool
    kind: (
        str  # nhs, police, council, fire, probation, dwp, housing, supplier, legal, press, charity
    )
    contacts: list[Contact] = field(default_factory=list, repr=False)


@dataclass
class Contact:
    name: str
    email: str
    org: Org = field(repr=False)
    role: str = ""

    @property
    def first(self) -> str:
        return self.name.split()[0]


@dataclass
class Staff:
    first: str
    last: str
    email: str
    title: str
    team: str
    dept: str
    phone: str
    pronouns: str = ""
    contacts: list[Contact] = field(default_factory=list, repr=False)  # usual outside contacts
    colleagues: list[Staff] = field(default_factory=list, repr=False)

    @property
    def name(self) -> str:
        return f"{self.first} {self.last}"


# department -> [(job title, team)]
DEPARTMENTS: dict[str, list[tuple[str, str]]] = {
    "revenues": [
        ("Revenues Officer", "Council Tax"),
        ("Senior Council Tax Officer", "Council Tax"),
        ("Recovery Officer", "Council Tax Recovery"),
        ("Benefits Assessor", "Housing Benefit and Council Tax Reduction"),
        ("Benefits Team Leader", "Housing Benefit and Council Tax Reduction"),
        ("Business Rates Officer", "Business Rates"),
    ],
    "adults": [
        ("Head of Adult Social Care", "Adult Social Care"),
        ("Social Worker", "Adult Social Care - Older People (North)"),
        ("Learning Disability Nurse", "Community Learning Disability Team"),
        ("Occupational Therapist", "Adult Social Care - Reablement"),
        ("Approved Mental Health Professional", "Community Mental Health Team"),
        ("Safeguarding Adults Practice Lead", "Safeguarding Adults Team"),
        ("Community Mental Health Nurse", "Community Mental Health Team"),
        ("Substance Misuse Service Manager", "Substance Misuse Service"),
        ("Dementia Adviser", "Memory Support Service"),
        ("Carers Support Worker", "Carers Support Service"),
        ("Senior Practitioner", "Hospital Discharge Team"),
        ("Deprivation of Liberty Safeguards Coordinator", "DoLS Team"),
    ],
    "children": [
        ("Child Protection Conference Chair", "Safeguarding and Quality Assurance"),
        ("Social Worker", "Children in Care Team"),
        ("Family Support Worker", "Early Help"),
        ("Independent Reviewing Officer", "Safeguarding and Quality Assurance"),
        ("SEND Caseworker", "Special Educational Needs and Disabilities"),
        ("Personal Adviser", "Leaving Care Team"),
        ("Team Manager", "Multi-Agency Safeguarding Hub (MASH)"),
        ("Youth Justice Officer", "Youth Justice Service"),
    ],
    "housing": [
        ("Housing Options Officer", "Housing Options"),
        ("Tenancy Officer", "Tenancy Services"),
        ("Homelessness Prevention Officer", "Housing Options"),
        ("Income Officer", "Rents"),
    ],
    "planning": [
        ("Planning Officer", "Development Management"),
        ("Principal Planning Officer", "Development Management"),
        ("Planning Enforcement Officer", "Planning Enforcement"),
        ("Planning Support Officer", "Planning Support"),
    ],
    "democratic": [
        ("Democratic Services Officer", "Democratic Services"),
        ("Committee Clerk", "Democratic Services"),
    ],
    "comms": [
        ("Communications Officer", "Communications"),
        ("Press Officer", "Communications"),
        ("Head of Communications", "Communications"),
    ],
    "hr": [
        ("HR Adviser", "Human Resources"),
        ("HR Business Partner", "Human Resources"),
        ("Recruitment Officer", "Human Resources"),
        ("Occupational Health Nurse", "Occupational Health"),
    ],
    "finance": [
        ("Accounts Receivable Officer", "Income and Debt"),
        ("Accounts Payable Assistant", "Accounts Payable"),
        ("Finance Business Partner", "Finance"),
    ],
    "procurement": [
        ("Procurement Officer", "Procurement"),
        ("Category Manager", "Procurement"),
        ("Contracts Officer", "Commissioning"),
    ],
    "legal": [
        ("Solicitor", "Legal Services"),
        ("Senior Lawyer (Property)", "Legal Services"),
        ("Legal Assistant", "Legal Services"),
    ],
    "ig": [
        ("Information Governance Officer", "Information Governance"),
        ("FOI Officer", "Information Governance"),
        ("Data Protection Officer", "Information Governance"),
    ],
    "publichealth": [
        ("Public Health Practitioner", "Public Health"),
        ("Consultant in Public Health", "Public Health"),
        ("Sexual Health Commissioning Manager", "Public Health Commissioning"),
    ],
    "customer": [
        ("Customer Services Adviser", "Customer Contact Centre"),
        ("Customer Services Team Leader", "Customer Contact Centre"),
    ],
    "community": [
        ("Community Development Officer", "Stronger Communities"),
        ("Library Supervisor", "Libraries"),
        ("Waste Services Officer", "Waste and Recycling"),
        ("Environmental Health Officer", "Environmental Health"),
        ("Parking Appeals Officer", "Parking Services"),
        ("Admissions Officer", "School Admissions"),
    ],
}

MAILBOXES = {
    "revenues": "counciltax",
    "benefits": "benefits",
    "planning": "planning",
    "foi": "foi",
    "press": "press.office",
    "democratic": "democratic.services",
    "payments": "accounts.receivable",
    "payables": "accounts.payable",
    "hr": "hr.recruitment",
    "admissions": "school.admissions",
    "parking": "parking.appeals",
    "news": "news",
    "housing": "housing.options",
}


def mailbox(key: str) -> str:
    return f"{MAILBOXES[key]}@{DOMAIN}"


ORG_SPECS = [
    # name, domain, partner, kind, how many named contacts
    ("NHS (NHSmail)", "nhs.net", True, "nhs", 30),
    ("Anyshire Constabulary", "anyshire.police.uk", True, "police", 10),
    ("West Vale District Council", "westvale.gov.uk", True, "council", 10),
    ("Northdown District Council", "northdown.gov.uk", True, "council", 8),
    ("Anyshire Fire and Rescue Service", "anyshirefire.gov.uk", True, "fire", 4),
    ("Probation Service", "justice.gov.uk", True, "probation", 5),
    ("Department for Work and Pensions", "dwp.gov.uk", True, "dwp", 4),
    ("Anyshire Housing Trust", "anyshirehousingtrust.org.uk", True, "housing", 8),
    ("Hollis & Peake Construction Ltd", "hollisandpeake.co.uk", False, "supplier", 4),
    ("Brightwater Facilities Management Ltd", "brightwater-fm.co.uk", False, "supplier", 4),
    ("Meridian IT Services Ltd", "meridian-it.co.uk", False, "supplier", 5),
    ("Greenleaf Grounds Maintenance Ltd", "greenleafgrounds.co.uk", False, "supplier", 3),
    ("Carewell Homecare Ltd", "carewellhomecare.co.uk", False, "supplier", 4),
    ("Printwise Ltd", "printwise.co.uk", False, "supplier", 2),
    ("Kestrel Audit LLP", "kestrelaudit.co.uk", False, "supplier", 3),
    ("Castleford Office Supplies", "castlefordoffice.co.uk", False, "supplier", 2),
    ("PIP Law LLP", "piplaw.co.uk", False, "legal", 4),
    ("ESA Solicitors", "esasolicitors.co.uk", False, "legal", 3),
    ("Anyshire Gazette", "anyshiregazette.co.uk", False, "press", 4),
    ("BBC Anyshire", "bbc.co.uk", False, "press", 2),
    ("Anytown Community Trust", "anytowncommunitytrust.org.uk", False, "charity", 3),
    ("Anyshire Carers Network", "anyshirecarers.org.uk", False, "charity", 3),
    ("Anyshire Association of Local Councils", "anyshirealc.org.uk", False, "charity", 2),
]

NHS_ROLES = [
    "Practice Manager, Castle Street Surgery",
    "GP, Riverside Medical Practice",
    "Discharge Coordinator, Anytown General Hospital",
    "Community Psychiatric Nurse, Anyshire Partnership NHS Foundation Trust",
    "District Nursing Sister",
    "Continuing Healthcare Nurse Assessor",
    "Health Visitor",
    "Named Nurse for Safeguarding Children",
    "Ward Manager, Ashcombe Community Hospital",
    "Consultant Psychiatrist",
]


class World:
    """The council's people and its outside contacts for one seed."""

    def __init__(self, seed: int) -> None:
        rng = random.Random(f"world:{seed}")
        fake = Faker("en_GB")
        fake.seed_instance(seed * 7919 + 11)
        self.rng = rng
        self.orgs: list[Org] = []
        used: set[str] = set()
        for name, domain, partner, kind, n in ORG_SPECS:
            org = Org(name, domain, partner, kind)
            for _ in range(n):
                first, last = fake.first_name(), fake.last_name()
                local = f"{_ascii(first).lower()}.{_ascii(last).lower()}"
                if domain == "nhs.net" and rng.random() < 0.3:
                    local += str(rng.randint(1, 9))
                email = f"{local}@{domain}"
                if email in used:
                    continue
                used.add(email)
                role = rng.choice(NHS_ROLES) if kind == "nhs" else ""
                org.contacts.append(Contact(f"{first} {last}", email, org, role))
            self.orgs.append(org)
        self.staff: list[Staff] = []
        for dept, roles in DEPARTMENTS.items():
            for title, team in roles:
                for _ in range(rng.choice([1, 1, 2])):
                    female = rng.random() < 0.7  # most council staff are women
                    first = fake.first_name_female() if female else fake.first_name_male()
                    last = fake.last_name()
                    local = f"{_ascii(first).lower()}.{_ascii(last).lower()}"
                    email = f"{local}@{DOMAIN}"
                    if email in used:
                        email = f"{local}{rng.randint(2, 9)}@{DOMAIN}"
                    used.add(email)
                    pronouns = rng.choice(
                        ["", "", "", "", "(she/her)" if female else "(he/him)", "(they/them)"]
                    )
                    self.staff.append(
                        Staff(
                            first,
                            last,
                            email,
                            title,
                            team,
                            dept,
                            f"01632 {rng.randint(960100, 960999)}",
                            pronouns,
                        )
                    )
        by_dept: dict[str, list[Staff]] = {}
        for s in self.staff:
            by_dept.setdefault(s.dept, []).append(s)
        self.by_dept = by_dept
        for s in self.staff:
            same = [c for c in by_dept[s.dept] if c is not s]
            others = [c for c in self.staff if c.dept != s.dept]
            s.colleagues = same + rng.sample(others, 4)
            s.contacts = self._usual_contacts(s, rng)

    def org(self, domain: str) -> Org:
        return next(o for o in self.orgs if o.domain == domain)

    def orgs_of(self, kind: str) -> list[Org]:
        return [o for o in self.orgs if o.kind == kind]

    def _usual_contacts(self, s: Staff, rng: random.Random) -> list[Contact]:
        kinds = {
            "revenues": ["dwp", "council", "legal"],
            "adults": ["nhs", "nhs", "nhs", "police", "housing", "supplier", "charity"],
            "children": ["nhs", "police", "probation", "council", "housing"],
            "housing": ["housing", "council", "police", "dwp", "nhs"],
            "planning": ["council", "legal", "supplier", "fire"],
            "democratic": ["council", "press", "charity"],
            "comms": ["press", "council", "charity"],
            "hr": ["supplier", "nhs", "legal"],
            "finance": ["supplier", "supplier", "council", "legal"],
            "procurement": ["supplier", "supplier", "legal"],
            "legal": ["legal", "council", "police"],
            "ig": ["council", "nhs", "legal"],
            "publichealth": ["nhs", "charity", "council"],
            "customer": ["council", "housing"],
            "community": ["charity", "supplier", "council", "fire"],
        }[s.dept]
        contacts: list[Contact] = []
        for kind in kinds:
            pool = [c for o in self.orgs_of(kind) for c in o.contacts]
            contacts.extend(rng.sample(pool, min(len(pool), rng.randint(1, 3))))
        return _unique(contacts)

    def staff_in(self, *depts: str) -> list[Staff]:
        return [s for d in depts for s in self.by_dept.get(d, [])]

    def staff_titled(self, *words: str) -> list[Staff]:
        return [s for s in self.staff if any(w.lower() in s.title.lower() for w in words)]


def _unique(items: list[Contact]) -> list[Contact]:
    seen: set[str] = set()
    out = []
    for c in items:
        if c.email not in seen:
            seen.add(c.email)
            out.append(c)
    return out


# --- how the council writes -----------------------------------------------------------

DISCLAIMERS = [
    (
        "This email and any attachments are confidential and intended solely for the addressee. "
        "If you have received it in error, please tell the sender and delete it; do not copy, "
        "use or disclose its contents. {name} may monitor email to and from its systems. "
        "Personal data is processed in line with the UK GDPR and the Data Protection Act 2018: "
        "see our privacy notice at {web}/privacy."
    ),
    (
        "DISCLAIMER: The information in this message is intended only for the named recipient "
        "and may contain sensitive or special category personal data. If you are not the "
        "intended recipient, any disclosure, copying or distribution is prohibited. Emails to "
        "and from {name} may be subject to the Freedom of Information Act 2000."
    ),
    (
        "{name} - working together for a healthier, safer Anyshire. Please consider the "
        "environment before printing this email. This message has been scanned for viruses."
    ),
    (
        "Confidentiality notice: this communication may contain information that is legally "
        "privileged or exempt from disclosure. If you are not the intended recipient please "
        "notify us immediately on {switchboard} and delete the message. Views expressed are the "
        "author's and not necessarily those of {name}."
    ),
]


def disclaimer(rng: random.Random) -> str:
    return rng.choice(DISCLAIMERS).format(name=NAME, web=WEB, switchboard=SWITCHBOARD)


SIGNOFFS = [
    "Kind regards",
    "Kind regards,",
    "Many thanks",
    "Best wishes",
    "Regards",
    "Yours sincerely",
    "Thanks",
    "Thank you",
    "With best wishes",
    "Warm regards",
]


def signature(s: Staff, rng: random.Random) -> str:
    style = rng.randint(0, 4)
    name = f"{s.name} {s.pronouns}".strip()
    if style == 0:
        return "\n".join([name, s.title, s.team, NAME, f"Tel: {s.phone}", WEB])
    if style == 1:
        return "\n".join(
            [
                name,
                f"{s.title} | {s.team}",
                f"{NAME} | {', '.join(HQ)}",
                f"T: {s.phone} | Switchboard: {SWITCHBOARD}",
                f"E: {s.email}",
            ]
        )
    if style == 2:
        return "\n".join([s.first, "", f"{s.name}", s.title, NAME])
    if style == 3:
        days = rng.choice(["Monday to Thursday", "Tuesday, Wednesday and Friday", "mornings only"])
        return "\n".join(
            [
                name,
                s.title,
                s.team,
                f"My working days are {days}.",
                f"{NAME}, {SITES[rng.randrange(len(SITES))]}",
                f"Direct line {s.phone}",
            ]
        )
    return "\n".join(
        [
            s.name,
            s.title,
            f"{s.team}, {NAME}",
            f"{', '.join(HQ)}",
            f"{s.phone} (direct) / {SWITCHBOARD} (switchboard)",
            f"Follow us: @{SHORT}CC | facebook.com/{SHORT}CountyCouncil",
        ]
    )


def greeting(rng: random.Random, first: str = "", formal: str = "") -> str:
    if formal and rng.random() < 0.5:
        return rng.choice([f"Dear {formal}", f"Dear {formal},"])
    if first:
        return rng.choice(
            [
                f"Dear {first}",
                f"Hi {first}",
                f"Hello {first}",
                f"Dear {first},",
                f"{first},",
                f"Good morning {first}",
                f"Hi {first},",
            ]
        )
    return rng.choice(["Dear Sir or Madam", "Hello", "Good afternoon", "Dear colleague"])
