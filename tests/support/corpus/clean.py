"""Ordinary council mail that a naive guard mistakes for a leak. None of it may be
rewritten, held or rejected (tagging is fine)."""

from __future__ import annotations

import datetime as dt

from tests.support.corpus import council as cc
from tests.support.corpus import docs
from tests.support.corpus.kinds import Ctx, Sample, kind, person_secrets
from tests.support.corpus.mail import Attachment, Draft, Quote


def _letterhead(ctx: Ctx, s: cc.Staff, addressee: list[str], our_ref: str, heading: str) -> list:
    return [
        ("b", cc.NAME),
        ("right", "\n".join([s.team, *cc.HQ, f"Telephone: {s.phone}", cc.WEB])),
        ("p", "\n".join(addressee)),
        ("p", f"Our ref: {our_ref}\nDate: {ctx.today:%d %B %Y}"),
        ("h2", heading),
    ]


# --- revenues and benefits --------------------------------------------------------------


@kind("ctax_account_reply", risky=False, weight=1.5)
def ctax_account_reply(ctx: Ctx) -> Sample:
    """A reply to a resident about their own council tax account."""
    s = ctx.staff("revenues")
    r = ctx.resident()
    acct = r.ctax
    when = ctx.when()
    topic = ctx.choice(["moving", "discount", "instalments", "refund", "band"])
    band = ctx.choice("ABCDEFG")
    amount = ctx.money(900, 2600)
    inst = ctx.rng.choice([10, 12])
    asked = {
        "moving": f"Hi, I moved out of {r.street} on {ctx.day(ctx.today - dt.timedelta(days=20))} "
        "and "
        "want to close my council tax account. My new address is out of the county. Thanks",
        "discount": "Hello, my partner moved out last month so I now live on my own. Can I get the "
        "single person discount please? My account number is on the bill.",
        "instalments": "Is it possible to pay over 12 months instead of 10? Money is a bit tight "
        "at "
        "the moment.",
        "refund": f"I think I've been charged twice for May. Account {acct}. Can you check please?",
        "band": f"My neighbour says her house is band {band} and it's the same as mine. Why am I "
        "paying more?",
    }[topic]
    answer = {
        "moving": [
            "Thank you for letting us know that you have moved. I have closed your council tax "
            f"account {acct} for {r.street} with effect from the date you gave.",
            "A final bill will be sent to your new address. It shows a credit of "
            f"{ctx.money(20, 180)}, which we will refund to you; please reply with the account "
            "you would like it paid into, or call us and we can take the details over the "
            "phone.",
        ],
        "discount": [
            f"I have now applied a 25% single person discount to account {acct} from "
            f"{ctx.day(ctx.today - dt.timedelta(days=31))}.",
            f"Your revised annual charge is {amount}, payable in {inst} monthly instalments. A "
            "new bill will be posted to you within the next 7 days.",
            "Please tell us straight away if anyone aged 18 or over moves in with you, as the "
            "discount would then end.",
        ],
        "instalments": [
            f"I can confirm that your instalments for account {acct} have been spread over 12 "
            f"months. Your new monthly instalment is {ctx.money(70, 210)} and the first payment "
            f"is due on 1 {ctx.date_ahead(10, 40):%B}.",
            "If you are finding it difficult to pay, you may be able to get Council Tax "
            f"Reduction. You can check and apply at {cc.WEB}/ctr.",
        ],
        "refund": [
            f"I have checked account {acct} and you are right: the payment of "
            f"{ctx.money(90, 220)} was taken twice because of a problem with the Direct Debit "
            "run on the 1st.",
            "I have arranged for the duplicate payment to be refunded to your bank account "
            "within 5 working days. I apologise for the inconvenience.",
        ],
        "band": [
            "Council tax bands are set by the Valuation Office Agency (VOA), not by the "
            f"council, and your property at {r.street} is shown in band {band}.",
            "If you think the band is wrong you can ask the VOA to review it at "
            "www.gov.uk/challenge-council-tax-band. You must keep paying while they look at it.",
        ],
    }[topic]
    subject = ctx.choice(
        [
            f"RE: Council tax account {acct}",
            "RE: Council Tax",
            f"Your council tax - {acct}",
            "RE: council tax query",
        ]
    )
    blocks = [ctx.greet(r.first, r.formal), *[("p", a) for a in answer]]
    if ctx.chance(0.5):
        blocks.append(
            (
                "p",
                "If you have any questions please reply to this email or call "
                f"{cc.CONTACT_CENTRE}.",
            )
        )
    blocks += ctx.closing(s)
    if ctx.chance(0.7):
        blocks.append(
            (
                "quote",
                Quote(
                    (r.name, r.email),
                    [("Council Tax", cc.mailbox("revenues"))],
                    ctx.earlier(when),
                    "Council Tax",
                    [("p", asked)],
                    style=ctx.choice(["outlook", "gmail"]),
                ),
            )
        )
    d = Draft((s.name, s.email), [(r.name, r.email)], subject, blocks, when)
    return Sample(d, False, "pass", set(), [r.name, acct])


@kind("ctax_direct_debit_own", risky=False)
def ctax_direct_debit_own(ctx: Ctx) -> Sample:
    """Direct Debit set-up confirmed to the account holder, with their own bank details."""
    s = ctx.staff("revenues")
    r = ctx.resident()
    acct = r.ctax
    first = ctx.date_ahead(8, 30)
    details = [
        f"Name of account holder: {r.title} {r.first[0]} {r.last}",
        f"Bank sort code: {r.sort_code}",
        f"Account number: {r.account}",
        f"Council tax account: {acct}",
        f"Instalments: {ctx.rng.choice([10, 12])} monthly, on the "
        f"{ctx.choice(['1st', '15th', '28th'])} of each month",
        f"First collection: {ctx.day(first)}, {ctx.money(80, 220)}",
    ]
    blocks = [
        ctx.greet(r.first, r.formal),
        (
            "p",
            ctx.choice(
                [
                    "Thank you for setting up a Direct Debit to pay your council tax. Please "
                    "check the details below; if any of them are wrong, tell us straight away.",
                    "Your Direct Debit instruction has been set up. These are the details we "
                    "hold - please check them carefully and let us know if anything needs "
                    "correcting.",
                ]
            ),
        ),
        ("lines", "\n".join(details)),
        (
            "p",
            "Your payments are protected by the Direct Debit Guarantee. You can cancel a Direct "
            "Debit at any time by contacting your bank or building society.",
        ),
        *ctx.closing(s),
    ]
    d = Draft(
        (s.name, s.email),
        [(r.name, r.email)],
        ctx.choice(
            [
                "Direct Debit confirmation",
                f"Council Tax Direct Debit - account {acct}",
                "Your Direct Debit has been set up",
            ]
        ),
        blocks,
        ctx.when(),
    )
    return Sample(
        d,
        False,
        "pass",
        {"UK_SORT_CODE", "UK_BANK_ACCOUNT"},
        [*person_secrets(r, "sort_code", "account"), acct],
    )


def _decision_letter(ctx: Ctx, s: cc.Staff, r, claim: str) -> list:
    weekly_hb = ctx.money(40, 160)
    weekly_ctr = ctx.money(8, 30)
    return [
        *_letterhead(
            ctx,
            s,
            [f"{r.title} {r.first} {r.last}", *r.address_lines],
            claim,
            "Housing Benefit and Council Tax Reduction - decision notice",
        ),
        ("p", f"Claim reference: {claim}\nNational Insurance number: {r.nino}"),
        ("p", f"Dear {r.formal}"),
        (
            "p",
            "We have looked at your claim and worked out your entitlement from "
            f"{ctx.day(ctx.today - dt.timedelta(days=ctx.rng.randint(7, 60)))}.",
        ),
        (
            "table",
            [
                ["", "Weekly amount"],
                ["Eligible rent", ctx.money(90, 240)],
                ["Housing Benefit", weekly_hb],
                ["Council Tax Reduction", weekly_ctr],
            ],
        ),
        (
            "p",
            "We have used the following income to work out your benefit: Universal Credit, "
            f"{ctx.money(300, 900)} a month; earnings, {ctx.money(0, 400)} a week.",
        ),
        (
            "p",
            "If you think this decision is wrong, you can ask us to look at it again. You must "
            "do this within one month of the date of this letter.",
        ),
        ("p", f"Yours sincerely\n\n{s.name}\n{s.title}"),
    ]


@kind("benefit_decision_own", risky=False, weight=1.3)
def benefit_decision_own(ctx: Ctx) -> Sample:
    """A claimant's own decision letter, attached to an email to them."""
    s = ctx.staff("revenues")
    r = ctx.resident()
    claim = ctx.ref("HB", 7)
    letter = _decision_letter(ctx, s, r, claim)
    fname = ctx.choice(
        [
            f"Decision notice {claim}.pdf",
            "DecisionLetter.pdf",
            f"{r.last}_decision.pdf",
            f"HB CTR decision {ctx.today:%d%m%Y}.docx",
        ]
    )
    data = (
        docs.pdf(letter, title="Decision notice")
        if fname.endswith(".pdf")
        else docs.docx(letter, title="Decision notice")
    )
    blocks = [
        ctx.greet(r.first, r.formal),
        (
            "p",
            ctx.choice(
                [
                    "As requested, please find attached a copy of your decision letter.",
                    "Thank you for sending in the documents we asked for. Your claim has now "
                    "been assessed and your decision notice is attached.",
                    "I attach the decision on your Housing Benefit and Council Tax Reduction "
                    "claim. Your first payment will be made on the next payment run.",
                ]
            ),
        ),
        ("p", f"Please quote your claim reference {claim} if you contact us."),
        *ctx.closing(s),
    ]
    d = Draft(
        (s.name, s.email),
        [(r.name, r.email)],
        ctx.choice(
            [
                f"Your benefit claim {claim}",
                "RE: Housing Benefit claim",
                "Decision letter",
                f"Claim {claim} - decision",
            ]
        ),
        blocks,
        ctx.when(),
        attachments=[Attachment(fname, data)],
    )
    return Sample(d, False, "pass", {"UK_NINO"}, person_secrets(r, "nino"))


@kind("benefit_evidence_request_own", risky=False)
def benefit_evidence_request_own(ctx: Ctx) -> Sample:
    """Asking a claimant for evidence, quoting their own National Insurance number."""
    s = ctx.staff("revenues")
    r = ctx.resident()
    claim = ctx.ref("CTR", 6)
    due = ctx.date_ahead(14, 30)
    items = ctx.pick_some(
        [
            "your last two months of bank statements for every account you hold",
            "your five most recent payslips",
            "your Universal Credit statement for the current assessment period",
            "a copy of your tenancy agreement showing the rent you pay",
            "proof of any savings or investments",
            "your childcare invoices",
        ],
        2,
        4,
    )
    blocks = [
        ctx.greet(r.first, r.formal),
        (
            "p",
            f"Thank you for your claim for Council Tax Reduction (reference {claim}). We have "
            f"the following details for you: {r.name}, National Insurance number {r.nino}.",
        ),
        ("p", "Before we can decide your claim we need:\n" + "\n".join(f"- {i}" for i in items)),
        (
            "p",
            f"Please send these by {ctx.day(due)}. You can upload them at {cc.WEB}/evidence or "
            "reply to this email with photographs. If we do not hear from you we may have to "
            "close your claim.",
        ),
        *ctx.closing(s),
    ]
    d = Draft(
        (s.name, s.email),
        [(r.name, r.email)],
        ctx.choice(
            [
                "Council Tax Reduction - information needed",
                f"Your claim {claim}",
                "We need more information",
            ]
        ),
        blocks,
        ctx.when(),
    )
    return Sample(d, False, "pass", {"UK_NINO"}, person_secrets(r, "nino"))


@kind("blue_badge_own", risky=False, weight=0.8)
def blue_badge_own(ctx: Ctx) -> Sample:
    """A Blue Badge decision to the applicant, naming their own condition."""
    s = ctx.staff("customer", "adults")
    r = ctx.resident(min_age=45)
    condition = ctx.choice(
        [
            "COPD",
            "multiple sclerosis",
            "Parkinson's disease",
            "heart failure",
            "severe arthritis in both knees",
            "motor neurone disease",
        ]
    )
    ref = ctx.ref("BB", 6)
    blocks = [
        ctx.greet(r.first, r.formal),
        (
            "p",
            f"Thank you for your Blue Badge application (reference {ref}). We have now received "
            f"the information from your consultant about your {condition} and how it affects "
            "your walking.",
        ),
        (
            "p",
            ctx.choice(
                [
                    "I am pleased to tell you that your application has been approved. Your "
                    "badge will be posted to you within 10 working days.",
                    "Your application has been approved for three years. The badge is printed "
                    "by the Department for Transport's supplier and should reach you within two "
                    "weeks.",
                ]
            ),
        ),
        (
            "p",
            f"For our records: applicant {r.name}, date of birth {r.dob_text()}, {r.street}, "
            f"{r.postcode}.",
        ),
        *ctx.closing(s),
    ]
    d = Draft(
        (s.name, s.email), [(r.name, r.email)], "Your Blue Badge application", blocks, ctx.when()
    )
    return Sample(
        d,
        False,
        "pass",
        {"SPECIAL_CATEGORY", "DATE_OF_BIRTH"},
        person_secrets(r, "dob"),
        note="the applicant's own health and date of birth, sent to the applicant",
    )


@kind("rent_account_statement", risky=False)
def rent_account_statement(ctx: Ctx) -> Sample:
    """A tenant's own rent account, with the 8-digit rent and customer numbers."""
    s = ctx.staff("housing")
    r = ctx.resident()
    rent_acct = "8" + ctx.ref(digits=7)
    cust = ctx.ref(digits=8)
    rows = [["Date", "Description", "Debit", "Credit", "Balance"]]
    bal = ctx.rng.uniform(-50, 400)
    day = ctx.today - dt.timedelta(days=56)
    for _ in range(8):
        day += dt.timedelta(days=7)
        rent = ctx.rng.uniform(95, 140)
        paid = rent if ctx.chance(0.8) else 0
        bal += rent - paid
        rows.append(
            [
                f"{day:%d/%m/%Y}",
                "Rent and service charge",
                f"{rent:.2f}",
                f"{paid:.2f}" if paid else "",
                f"{bal:.2f}",
            ]
        )
    blocks = [
        ctx.greet(r.first, r.formal),
        (
            "p",
            ctx.choice(
                [
                    "As you asked on the phone, here is a statement of your rent account "
                    f"{rent_acct} for the last eight weeks.",
                    "Please see below the recent transactions on your rent account (account "
                    f"number {rent_acct}, customer number {cust}).",
                ]
            ),
        ),
        ("table", rows),
        (
            "p",
            "If the balance is more than one week's rent, please contact your Income Officer to "
            "agree a way to clear it. Help with rent is available through Universal Credit or "
            "Housing Benefit.",
        ),
        *ctx.closing(s),
    ]
    d = Draft(
        (s.name, s.email),
        [(r.name, r.email)],
        ctx.choice(["Rent statement", f"Rent account {rent_acct}", "RE: my rent account"]),
        blocks,
        ctx.when(),
    )
    return Sample(d, False, "pass", set(), [r.name, rent_acct, cust])


@kind("school_place_offer", risky=False, weight=0.8)
def school_place_offer(ctx: Ctx) -> Sample:
    """A school place offer to the parent, with their child's date of birth."""
    s = ctx.staff("community")
    parent = ctx.resident(min_age=25, max_age=50)
    kid = ctx.child(parent.last)
    school = ctx.choice(
        [
            "St Mary's CE Primary School",
            "Anytown Community Primary",
            "Ashcombe Academy",
            "Kingsbridge Vale Junior School",
            "Hollowfield Infant School",
        ]
    )
    blocks = [
        ctx.greet(parent.first, parent.formal),
        (
            "p",
            f"Application reference: {ctx.ref('AN', 8)}\nChild: {kid.name}\nDate of birth: "
            f"{kid.dob_text()}",
        ),
        (
            "p",
            f"I am pleased to offer {kid.first} a place at {school} from September. Please "
            f"accept or decline the offer online by {ctx.day(ctx.date_ahead(10, 20))}.",
        ),
        ("p", "If you do not reply, the place may be offered to another child."),
        *ctx.closing(s),
    ]
    d = Draft(
        ("School Admissions", cc.mailbox("admissions")),
        [(parent.name, parent.email)],
        "Offer of a school place",
        blocks,
        ctx.when(),
    )
    return Sample(
        d,
        False,
        "pass",
        {"DATE_OF_BIRTH"},
        [kid.name, f"{kid.dob:%d/%m/%Y}"],
        note="a child's date of birth, sent to the child's parent",
    )


@kind("parking_appeal_reply", risky=False, weight=0.7)
def parking_appeal_reply(ctx: Ctx) -> Sample:
    """A reply to a motorist about their own penalty charge notice."""
    s = ctx.staff("community")
    r = ctx.resident()
    pcn = "AN" + ctx.ref(digits=8)
    reg = f"{ctx.fake.bothify('??##').upper()} {ctx.fake.lexify('???').upper()}"
    outcome = ctx.choice(
        [
            "Having considered your appeal and the photographs you sent of the sign, I have "
            "decided to cancel the penalty charge notice. No further action will be taken.",
            "I have looked at the evidence, including the civil enforcement officer's "
            "photographs, and I am afraid the PCN was correctly issued. You can still pay the "
            "reduced amount of £35 within 14 days.",
        ]
    )
    blocks = [
        ctx.greet(r.first, r.formal),
        ("p", f"Penalty Charge Notice {pcn}, vehicle {reg}"),
        ("p", outcome),
        *ctx.closing(s),
    ]
    d = Draft((s.name, s.email), [(r.name, r.email)], f"PCN {pcn}", blocks, ctx.when())
    return Sample(d, False, "pass", set(), [r.name])


# --- money ---------------------------------------------------------------------------


@kind("invoice_council_bank", risky=False, weight=1.2)
def invoice_council_bank(ctx: Ctx) -> Sample:
    """A sundry invoice with the council's own bank details for payment."""
    s = ctx.staff("finance")
    c = ctx.contact("supplier", "charity", "legal")
    inv = "91" + ctx.ref(digits=8)
    what = ctx.choice(
        [
            ("Trade waste collection, quarter 2", 480, 2400),
            ("Hire of the Council Chamber for a training day", 180, 450),
            ("Street trading consent", 250, 900),
            ("Recharge of legal costs", 300, 2500),
            ("Pavement licence", 100, 500),
        ]
    )
    amount = ctx.money(what[1], what[2])
    bank = (
        f"Payment by BACS to: {cc.NAME}\nBank: {cc.BANK_NAME}\nSort code: {cc.BANK_SORT}\nAccount "
        f"number: {cc.BANK_ACCOUNT}\nIBAN: {cc.BANK_IBAN}  SWIFT/BIC: {cc.SWIFT}\nReference: "
        f"{inv}"
    )
    letter = [
        ("Title", "INVOICE"),
        ("right", f"{cc.NAME}\n{', '.join(cc.HQ)}\nVAT reg no. GB 123 4567 89"),
        ("p", f"{c.org.name}\nFAO {c.name}"),
        (
            "p",
            f"Invoice number: {inv}\nInvoice date: {ctx.today:%d/%m/%Y}\nCustomer number: "
            f"{ctx.ref(digits=8)}",
        ),
        ("table", [["Description", "Net", "VAT", "Total"], [what[0], amount, "£0.00", amount]]),
        ("p", "Payment terms: 30 days from the invoice date.\n\n" + bank),
    ]
    blocks = [
        ctx.greet(c.first),
        (
            "p",
            ctx.choice(
                [
                    f"Please find attached invoice {inv} for {what[0].lower()}.",
                    f"Attached is our invoice {inv} ({amount}).",
                ]
            ),
        ),
        (
            "p",
            ctx.choice(
                [
                    f"Payment can be made by bank transfer to {cc.NAME}, sort code "
                    f"{cc.BANK_SORT}, account {cc.BANK_ACCOUNT}, quoting the invoice number as "
                    "the reference.",
                    "Our bank details are on the invoice: please make cheques or transfers "
                    f"payable to {cc.NAME} and quote {inv}.",
                    f"To pay by BACS: Account name {cc.NAME}, Lloyds Bank, sort code "
                    f"{cc.BANK_SORT}, account number {cc.BANK_ACCOUNT}. Card payments can be "
                    f"made on {cc.CONTACT_CENTRE}.",
                ]
            ),
        ),
        *ctx.closing(s),
    ]
    d = Draft(
        ("Accounts Receivable", cc.mailbox("payments")),
        [(c.name, c.email)],
        f"Invoice {inv} from {cc.NAME}",
        blocks,
        ctx.when(),
        attachments=[Attachment(f"Invoice_{inv}.pdf", docs.pdf(letter, title=f"Invoice {inv}"))],
    )
    return Sample(d, False, "pass", set(), [])


@kind("remittance_advice", risky=False)
def remittance_advice(ctx: Ctx) -> Sample:
    """A remittance advice to a supplier after a payment run."""
    c = ctx.contact("supplier")
    run = ctx.today - dt.timedelta(days=ctx.rng.randint(0, 4))
    rows = [["Your invoice", "Our document", "Invoice date", "Amount"]]
    total = 0.0
    for _ in range(ctx.rng.randint(1, 7)):
        amt = ctx.rng.uniform(80, 12000)
        total += amt
        rows.append(
            [
                ctx.fake.bothify("INV-#####"),
                "51" + ctx.ref(digits=8),
                f"{run - dt.timedelta(days=ctx.rng.randint(20, 60)):%d/%m/%Y}",
                f"£{amt:,.2f}",
            ]
        )
    rows.append(["", "", "Total", f"£{total:,.2f}"])
    blocks = [
        (
            "p",
            f"REMITTANCE ADVICE\n\nPayee: {c.org.name}\nSupplier number: "
            f"{ctx.ref(digits=6)}\nPayment date: {run:%d/%m/%Y}\nPaid to account ending "
            f"{ctx.ref(digits=4)} by BACS from {cc.NAME} (sort code {cc.BANK_SORT})",
        ),
        ("table", rows),
        (
            "p",
            "This is an automatically generated email. Please do not reply to this address. For "
            f"queries contact Accounts Payable on {cc.SWITCHBOARD} quoting your supplier number.",
        ),
    ]
    d = Draft(
        ("Anyshire CC Accounts Payable", f"noreply.ap@{cc.DOMAIN}"),
        [("Accounts", c.email)],
        f"Remittance Advice - {c.org.name} - {run:%d/%m/%Y}",
        blocks,
        ctx.when(),
        client="system",
        fmt=ctx.choice(["plain", "html"]),
    )
    return Sample(d, False, "pass", set(), [])


@kind("purchase_order", risky=False, weight=1.2)
def purchase_order(ctx: Ctx) -> Sample:
    """A purchase order whose 10-digit number happens to pass the NHS number check."""
    s = ctx.staff("procurement", "finance", "community")
    c = ctx.contact("supplier")
    from tests.support.corpus.ids import ten_digit_reference

    po = ten_digit_reference(ctx.rng)
    item = ctx.choice(
        [
            ("Replacement office chairs (x12)", 1800),
            ("Grounds maintenance - additional cut", 640),
            ("Network switch and installation", 2300),
            ("Printing of 5,000 leaflets", 410),
            ("Emergency boiler repair, Riverside House", 950),
            ("Laptop bags (x40)", 520),
        ]
    )
    lines = [
        (
            "p",
            f"Purchase Order No: {po}\nOrder date: {ctx.today:%d/%m/%Y}\nSupplier: "
            f"{c.org.name}\nDeliver to: {cc.SITES[0]}",
        ),
        ("table", [["Line", "Description", "Qty", "Net"], ["1", item[0], "1", f"£{item[1]:,.2f}"]]),
        (
            "p",
            f"Please quote the purchase order number {po} on your invoice or it may be returned "
            "unpaid. Invoices to accounts.payable@anyshire.gov.uk.",
        ),
    ]
    blocks = [
        ctx.greet(c.first),
        (
            "p",
            ctx.choice(
                [
                    f"Please find attached purchase order {po}.",
                    f"PO {po} is attached for the work we discussed. Please confirm a delivery "
                    "date.",
                    f"Our order number is {po} - attached, with the delivery address.",
                ]
            ),
        ),
        *ctx.closing(s),
    ]
    d = Draft(
        (s.name, s.email),
        [(c.name, c.email)],
        ctx.choice([f"Purchase Order {po}", f"PO {po}", f"RE: Quote - PO {po}"]),
        blocks,
        ctx.when(),
        attachments=[Attachment(f"PO{po}.pdf", docs.pdf(lines, title=f"PO {po}"))],
    )
    return Sample(d, False, "pass", set(), [])


@kind("supplier_thread", risky=False, weight=1.2)
def supplier_thread(ctx: Ctx) -> Sample:
    """A back-and-forth with a supplier: dates, order numbers, site access."""
    from tests.support.corpus.ids import ten_digit_reference

    s = ctx.staff("procurement", "community", "finance", "adults")
    c = ctx.contact("supplier")
    when = ctx.when()
    po = ten_digit_reference(ctx.rng)
    topic = ctx.choice(
        [
            (
                "installation at Riverside House",
                "Can your engineers start on Tuesday at 8am? Parking is at the rear, sign in at "
                "reception and ask for facilities.",
            ),
            (
                "delivery of the new furniture",
                f"The goods on order {po} can be delivered to the loading bay at County Hall "
                "between 9 and 3. Please call the post room on arrival.",
            ),
            (
                "the quarterly contract review",
                "I have booked Room 2.14 at County Hall for the review. Could you bring the KPI "
                "figures for April to June?",
            ),
            (
                "the invoice query",
                f"Accounts Payable tell me invoice INV-{ctx.ref(digits=5)} was rejected because "
                f"it didn't quote our PO. The order number is {po} - could you reissue it?",
            ),
        ]
    )
    theirs = ctx.choice(
        [
            f"Hi {s.first}, thanks for the order. We can do next week - does Tuesday suit? "
            f"Regards, {c.name}",
            f"Morning {s.first}, just chasing the PO number for this so our accounts team can "
            f"raise the invoice. Cheers, {c.first}",
            f"Hello, please could you confirm access arrangements? Kind regards {c.name}, "
            f"{c.org.name}",
        ]
    )
    blocks = [
        ctx.greet(c.first),
        ("p", topic[1]),
        ("p", ctx.choice(["Thanks", "Let me know if that works.", "Any problems give me a call."])),
        *ctx.closing(s),
        (
            "quote",
            Quote(
                (c.name, c.email),
                [(s.name, s.email)],
                ctx.earlier(when),
                f"RE: {topic[0]}",
                [("p", theirs)],
            ),
        ),
    ]
    d = Draft(
        (s.name, s.email),
        [(c.name, c.email)],
        f"RE: {topic[0]}",
        blocks,
        when,
        cc=[(x.name, x.email) for x in ctx.pick_some(s.colleagues, 0, 1)],
    )
    return Sample(d, False, "pass", set(), [])


# --- planning, FOI, press, democracy ----------------------------------------------------


@kind("planning_notice", risky=False, weight=1.2)
def planning_notice(ctx: Ctx) -> Sample:
    """A planning consultation or decision notice."""
    s = ctx.staff("planning")
    app = f"{ctx.today:%y}/{ctx.ref(digits=5)}/{ctx.choice(['FUL', 'HOU', 'LBC', 'OUT', 'PRIOR'])}"
    town = ctx.choice(["Anytown", "Ashcombe", "Oakhurst", "Westmoor"])
    site = f"{ctx.fake.building_number()} {ctx.fake.street_name()}, {town}"
    proposal = ctx.choice(
        [
            "Single storey rear extension and loft conversion with rear dormer",
            "Change of use from shop (Class E) to hot food takeaway",
            "Erection of 14 dwellings with associated access and landscaping",
            "Replacement windows to listed building",
            "Two storey side extension",
            "Conversion of care home to 9 flats",
        ]
    )
    recipient = ctx.choice(["agent", "parish", "neighbour"])
    if recipient == "parish":
        parish, domain = ctx.choice(cc.PARISHES)
        to = [(f"Clerk to {parish} Parish Council", f"clerk@{domain}")]
    elif recipient == "agent":
        to = [(ctx.name(), f"{ctx.fake.user_name()}@{ctx.choice(cc.PLANNING_AGENTS)}")]
    else:
        r = ctx.resident()
        to = [(r.name, r.email)]
    decision = ctx.chance(0.4)
    body = [
        ("p", f"Application number: {app}\nSite: {site}\nProposal: {proposal}"),
        (
            "p",
            ctx.choice(
                [
                    "The council has received the above application. You can view the plans and "
                    f"comment at {cc.WEB}/planning by {ctx.day(ctx.date_ahead(14, 21))}.",
                    "We are consulting neighbours about this proposal. Comments must be made in "
                    "writing and will be published on our website, with your name and address "
                    "but not your email or phone number.",
                ]
            )
            if not decision
            else "Planning permission has been "
            + ctx.choice(
                [
                    "GRANTED subject to the conditions on the attached notice.",
                    "REFUSED for the reasons on the attached notice.",
                ]
            ),
        ),
    ]
    atts = []
    if decision or ctx.chance(0.3):
        notice = [
            ("Title", "Town and Country Planning Act 1990"),
            ("h2", "Decision notice" if decision else "Notice of application"),
            ("p", f"Application {app}\n{site}\n{proposal}"),
            (
                "p",
                "Conditions:\n1. The development must begin within three years of the date of "
                "this permission.\n2. The materials used externally shall match those of the "
                "existing building.",
            ),
        ]
        atts.append(Attachment(f"{app.replace('/', '_')}_notice.pdf", docs.pdf(notice, title=app)))
    blocks = [
        ctx.greet(to[0][0].split()[0] if recipient != "parish" else "", ""),
        *body,
        *ctx.closing(s),
    ]
    d = Draft(
        (s.name, s.email) if ctx.chance(0.6) else ("Planning", cc.mailbox("planning")),
        to,
        f"Planning application {app} - {site}",
        blocks,
        ctx.when(),
        attachments=atts,
    )
    return Sample(d, False, "pass", set(), [])


FOI_TOPICS = [
    (
        "the number of safeguarding adults enquiries by type of abuse in 2023/24",
        [
            ["Type of abuse", "Enquiries"],
            ["Neglect and acts of omission", "402"],
            ["Physical", "312"],
            ["Psychological", "201"],
            ["Financial or material", "176"],
            ["Self-neglect", "98"],
            ["Sexual", "45"],
            ["Domestic abuse", "133"],
            ["Modern slavery", "<5"],
        ],
    ),
    (
        "how many children were subject to a child protection plan on 31 March, by category",
        [
            ["Category", "Children"],
            ["Neglect", "210"],
            ["Emotional abuse", "140"],
            ["Physical abuse", "25"],
            ["Sexual abuse", "12"],
            ["Multiple", "18"],
        ],
    ),
    (
        "the ethnicity of council employees",
        [
            ["Ethnic group", "Headcount", "%"],
            ["White British", "4,112", "82.3"],
            ["White other", "301", "6.0"],
            ["Asian or Asian British", "288", "5.8"],
            ["Black or Black British", "121", "2.4"],
            ["Mixed", "97", "1.9"],
            ["Prefer not to say", "81", "1.6"],
        ],
    ),
    (
        "the number of Deprivation of Liberty Safeguards applications received and completed",
        [
            ["Year", "Received", "Completed", "Awaiting"],
            ["2021/22", "3,980", "2,115", "1,865"],
            ["2022/23", "4,214", "2,401", "1,813"],
            ["2023/24", "4,560", "2,902", "1,658"],
        ],
    ),
    (
        "spending on drug and alcohol treatment services",
        [
            ["Year", "Budget", "Clients in treatment"],
            ["2022/23", "£4.1m", "2,311"],
            ["2023/24", "£4.4m", "2,480"],
        ],
    ),
    (
        "the number of households in temporary accommodation",
        [
            ["Quarter", "Households", "of which with children"],
            ["Q1", "214", "131"],
            ["Q2", "230", "142"],
            ["Q3", "241", "150"],
            ["Q4", "236", "149"],
        ],
    ),
    (
        "the number of staff on long-term sickness absence for mental health reasons",
        [
            ["Reason", "Staff", "Days lost"],
            ["Stress, depression, anxiety", "86", "5,112"],
            ["Musculoskeletal", "41", "2,330"],
            ["Other", "63", "2,870"],
        ],
    ),
]


@kind("foi_response_aggregate", risky=False, weight=1.3)
def foi_response_aggregate(ctx: Ctx) -> Sample:
    """An FOI response with aggregate statistics (no individuals)."""
    s = ctx.staff("ig")
    topic, table = ctx.choice(FOI_TOPICS)
    ref = f"FOI-{ctx.today:%Y}-{ctx.ref(digits=5)}"
    requester = ctx.choice(["wdtk", "person", "journalist"])
    if requester == "wdtk":
        name = ctx.name()
        to = [
            (name, f"request-{ctx.ref(digits=6)}-{ctx.fake.hexify('^^^^^^^^')}@whatdotheyknow.com")
        ]
    elif requester == "journalist":
        c = ctx.contact("press")
        to, name = [(c.name, c.email)], c.name
    else:
        r = ctx.resident()
        to, name = [(r.name, r.email)], r.name
    blocks = [
        ctx.greet(name.split()[0], f"{name}" if requester == "wdtk" else ""),
        ("p", f"Freedom of Information request {ref}"),
        (
            "p",
            f"Thank you for your request for information about {topic}, which we received on "
            f"{ctx.day(ctx.today - dt.timedelta(days=ctx.rng.randint(10, 19)))}.",
        ),
        ("p", "The information we hold is below."),
        ("table", table),
        (
            "p",
            "Numbers below 5 are shown as <5 so that no individual can be identified (section "
            "40(2) of the Act).",
        ),
        (
            "p",
            "If you are unhappy with this response you may ask for an internal review within 40 "
            "working days. If you remain dissatisfied you can complain to the Information "
            "Commissioner's Office.",
        ),
        *ctx.closing(s),
    ]
    atts = []
    if ctx.chance(0.35):
        atts.append(Attachment(f"{ref} response.xlsx", docs.xlsx([docs.Sheet("Response", table)])))
    d = Draft(
        ("Freedom of Information", cc.mailbox("foi")),
        to,
        f"{ref} - your request for information",
        blocks,
        ctx.when(),
        attachments=atts,
    )
    return Sample(d, False, "pass", set(), [])


PRESS = [
    (
        "New dementia-friendly day centre opens in Ashcombe",
        "A new day centre for people living with dementia and their carers has opened at the "
        "Old Library in Ashcombe. The centre offers activities five days a week, a memory café "
        "on Thursday afternoons and advice for carers from the council's Memory Support "
        "Service.",
    ),
    (
        "Council's adult social care services rated Good",
        "The Care Quality Commission has rated Anyshire's adult social care services as Good. "
        "Inspectors praised the council's work with the NHS on hospital discharge and its "
        "support for people with learning disabilities and autism.",
    ),
    (
        "£4.2m for supported housing for people with mental health needs",
        "Cabinet has approved £4.2 million to build 24 supported flats for adults recovering "
        "from mental illness. The scheme will be run with Anyshire Housing Trust.",
    ),
    (
        "Free drop-in sessions for carers",
        "Unpaid carers can get free advice on benefits, respite and their own health at drop-in "
        "sessions run by the Carers Support Service in libraries across the county this month.",
    ),
    (
        "Council tax support scheme consultation",
        "Residents are invited to have their say on changes to the Council Tax Reduction "
        "scheme, which helps around 31,000 households on low incomes.",
    ),
    (
        "Road safety campaign launched ahead of summer",
        "Anyshire Constabulary and the council have launched a joint campaign to cut the number "
        "of people killed or seriously injured on the county's rural roads.",
    ),
]


@kind("press_release", risky=False)
def press_release(ctx: Ctx) -> Sample:
    """A press release to journalists (one at a time, or a Bcc list)."""
    s = ctx.staff("comms")
    title, text = ctx.choice(PRESS)
    cllr = f"Councillor {ctx.name()}"
    portfolio = ctx.choice(
        ["Adult Social Care and Health", "Communities", "Finance", "Children and Families"]
    )
    quote = ctx.choice(
        [
            "This is great news for residents.",
            "I want to thank everyone who made this happen.",
            "We listened to what people told us.",
        ]
    )
    blocks = [
        ("p", f"PRESS RELEASE - {ctx.today:%d %B %Y}\nFOR IMMEDIATE RELEASE"),
        ("h", title),
        ("p", text),
        (
            "p",
            f'{cllr}, Cabinet Member for {portfolio}, said: "{quote}"',
        ),
        (
            "p",
            "ENDS\n\nNotes to editors: for more information contact the press office on "
            f"{cc.SWITCHBOARD} or press.office@{cc.DOMAIN}. Photographs are available on "
            "request.",
        ),
        *ctx.closing(s, signoff="Thanks"),
    ]
    bcc = ctx.chance(0.5)
    journalists = [ctx.contact("press") for _ in range(ctx.rng.randint(3, 9))]
    if bcc:
        to = [("Press Office", cc.mailbox("press"))]
        rcpt = [cc.mailbox("press"), *sorted({j.email for j in journalists})]
    else:
        to = [(journalists[0].name, journalists[0].email)]
        rcpt = None
    d = Draft(
        ("Anyshire County Council Press Office", cc.mailbox("press")),
        to,
        f"Press release: {title}",
        blocks,
        ctx.when(),
    )
    return Sample(d, False, "pass", set(), [], rcpt=rcpt)


@kind("committee_papers", risky=False)
def committee_papers(ctx: Ctx) -> Sample:
    """Agenda and papers for a committee, to councillors and co-opted members."""
    s = ctx.staff("democratic")
    committee, items = ctx.choice(
        [
            (
                "Health and Wellbeing Board",
                [
                    "Safeguarding Adults Board Annual Report 2023/24",
                    "Suicide Prevention Strategy refresh",
                    "Joint Strategic Needs Assessment: mental health of children and young people",
                    "Drug and alcohol treatment - recommissioning",
                ],
            ),
            (
                "Adult Social Care and Health Overview and Scrutiny Committee",
                [
                    "Learning disability and autism: day opportunities review",
                    "Dementia strategy progress",
                    "Care market sustainability",
                    "Deprivation of Liberty Safeguards backlog",
                ],
            ),
            (
                "Corporate Parenting Panel",
                [
                    "Children in care: health assessments performance",
                    "Care leavers' accommodation",
                    "Unaccompanied asylum-seeking children",
                    "Report of the Independent Reviewing Officer service",
                ],
            ),
            (
                "Planning Committee",
                [
                    "24/01234/FUL Land west of Mill Lane, Ashcombe",
                    "24/00877/OUT Former depot, Station Road",
                    "Enforcement update",
                ],
            ),
        ]
    )
    date = ctx.date_ahead(5, 14)
    agenda = [
        ("Title", f"{committee}"),
        ("p", f"{ctx.day(date)} at 10.00am, Council Chamber, County Hall"),
        ("h2", "Agenda"),
    ]
    agenda += [("p", f"{i + 4}. {item}") for i, item in enumerate(items)]
    agenda.insert(
        3,
        (
            "p",
            "1. Apologies for absence\n2. Declarations of interest\n3. Minutes of the last meeting",
        ),
    )
    councillors = [
        (f"Cllr {ctx.name()}", f"cllr.{ctx.fake.user_name()}@{cc.DOMAIN}")
        for _ in range(ctx.rng.randint(3, 8))
    ]
    coopted = [
        (c.name, c.email)
        for c in [ctx.contact("nhs", "police", "council") for _ in range(ctx.rng.randint(0, 3))]
    ]
    blocks = [
        (
            "p",
            ctx.choice(
                ["Dear Members", "Dear Councillors and co-opted members", "Good afternoon all"]
            ),
        ),
        (
            "p",
            f"Please find attached the agenda and papers for the {committee} on {ctx.day(date)}. "
            f"The papers are also published on the council's website at {cc.WEB}/meetings.",
        ),
        (
            "p",
            "Please let me know if you are unable to attend so that your apologies can be "
            "recorded.",
        ),
        *ctx.closing(s),
    ]
    fname = f"Agenda {committee} {date:%d-%m-%Y}.{ctx.choice(['pdf', 'docx'])}"
    data = (
        docs.pdf(agenda, title=committee)
        if fname.endswith("pdf")
        else docs.docx(agenda, title=committee)
    )
    d = Draft(
        ("Democratic Services", cc.mailbox("democratic")),
        councillors,
        f"{committee} - {ctx.day(date)} - agenda",
        blocks,
        ctx.when(),
        cc=coopted,
        attachments=[Attachment(fname, data)],
    )
    return Sample(d, False, "pass", set(), [])


# --- people at work ---------------------------------------------------------------------


@kind("hr_policy_internal", risky=False, weight=0.8)
def hr_policy_internal(ctx: Ctx) -> Sample:
    """An all-staff message from HR about wellbeing or policy."""
    s = ctx.staff("hr")
    subject, text = ctx.choice(
        [
            (
                "Mental Health Awareness Week - sessions for staff",
                "This week is Mental Health Awareness Week. Our Mental Health First Aiders are "
                "running drop-ins in the staff room at County Hall every lunchtime, and the "
                "Employee Assistance Programme offers free, confidential counselling 24 hours a "
                "day.",
            ),
            (
                "Updated Sickness Absence Policy",
                "The revised Sickness Absence Policy takes effect from 1 July. The main changes "
                "cover phased returns, disability-related absence and reasonable adjustments, "
                "and the menopause. Managers should read the guidance on the intranet.",
            ),
            (
                "Menopause support group - next meeting",
                "The staff menopause support group meets on the first Tuesday of each month in "
                "Room G.12. Everyone is welcome, including managers who want to understand how "
                "to support colleagues.",
            ),
            (
                "Flu vaccinations for frontline staff",
                "Free flu jabs are available to all frontline social care staff. Book a slot "
                "through the Occupational Health pages; bring your staff ID.",
            ),
        ]
    )
    blocks = [
        ("p", ctx.choice(["Dear colleagues", "Hi all", "Good morning everyone"])),
        ("p", text),
        *ctx.closing(s, external=False),
    ]
    d = Draft(
        (f"HR - {s.name}", s.email),
        [("All Staff", f"allstaff@{cc.DOMAIN}")],
        subject,
        blocks,
        ctx.when(),
    )
    return Sample(d, False, "pass", set(), [])


@kind("hr_absence_internal", risky=False, weight=0.8)
def hr_absence_internal(ctx: Ctx) -> Sample:
    """A manager tells HR about a named employee's sickness absence (internal only)."""
    manager = ctx.staff()
    hr = ctx.staff("hr")
    emp = ctx.resident()
    reason = ctx.choice(
        [
            "anxiety and stress",
            "depression",
            "a back injury",
            "recovery from surgery",
            "long COVID",
            "a bereavement-related low mood",
        ]
    )
    blocks = [
        ctx.greet(hr.first),
        (
            "p",
            f"{emp.first} {emp.last} in my team has sent in a fit note for {reason} covering the "
            f"next four weeks. This takes {emp.first} over the trigger point.",
        ),
        (
            "p",
            "Could you arrange an Occupational Health referral and let me know what I need to "
            "do about a welfare meeting?",
        ),
        *ctx.closing(manager, external=False),
    ]
    d = Draft(
        (manager.name, manager.email),
        [(hr.name, hr.email)],
        ctx.choice(
            [
                "Sickness absence - OH referral",
                f"{emp.first} - absence",
                "Advice please - long term sickness",
            ]
        ),
        blocks,
        ctx.when(),
    )
    return Sample(
        d,
        False,
        "pass",
        {"SPECIAL_CATEGORY"},
        [emp.name],
        note="an employee's health, internal only",
    )


@kind("job_interview_invite", risky=False, weight=0.8)
def job_interview_invite(ctx: Ctx) -> Sample:
    """An interview invitation to a job applicant at their personal address."""
    s = ctx.staff("hr")
    r = ctx.resident(min_age=21, max_age=60)
    post = ctx.choice(
        [
            "Social Worker (Adults)",
            "Learning Disability Nurse",
            "Revenues Officer",
            "Substance Misuse Recovery Worker",
            "Mental Health Support Worker",
            "Planning Officer",
        ]
    )
    date = ctx.date_ahead(5, 20)
    blocks = [
        ctx.greet(r.first, r.formal),
        (
            "p",
            f"Thank you for applying for the post of {post} (job reference {ctx.ref('ASC', 4)}). "
            f"I am pleased to invite you to interview on {ctx.day(date)} at "
            f"{ctx.rng.randint(9, 15)}:00 at County Hall.",
        ),
        (
            "p",
            "Please bring your passport or birth certificate and proof of address so that we "
            "can carry out right to work checks. If you need any adjustments for the interview "
            "because of a disability, please let me know.",
        ),
        *ctx.closing(s),
    ]
    d = Draft(
        ("Recruitment", cc.mailbox("hr")),
        [(r.name, r.email)],
        f"Interview invitation - {post}",
        blocks,
        ctx.when(),
    )
    return Sample(d, False, "pass", set(), [r.name])


@kind("clinical_signature", risky=False, weight=1.5)
def clinical_signature(ctx: Ctx) -> Sample:
    """Everyday logistics from staff whose job title or team sounds clinical."""
    s = ctx.staff_titled(
        "Nurse",
        "Mental Health",
        "Substance Misuse",
        "Learning Disability",
        "Dementia",
        "Adult Social Care",
        "Safeguarding",
        "Deprivation",
        "Sexual Health",
        "Carers",
        "Occupational",
    )
    c = ctx.contact("supplier", "charity", "legal")
    topic = ctx.choice(
        [
            (
                "Room booking",
                f"Could I book the community room for Wednesday {ctx.date_ahead(5, 25):%d %B}, "
                "1pm to 3pm, for a team meeting of about 12 people? We will need the projector.",
            ),
            (
                "Training dates",
                "Thanks for sending the dates for the refresher training. The 14th works best "
                "for the team - please can you hold 10 places?",
            ),
            (
                "Invoice query",
                "We have received two invoices for the same session in March. Could you check "
                "and cancel one of them?",
            ),
            (
                "Leaflets",
                "Please could you print another 500 of the A5 leaflets, same as last time, and "
                "deliver them to Riverside House?",
            ),
            (
                "Parking at the venue",
                "Is there parking at the venue on the day? A couple of us have blue badges.",
            ),
        ]
    )
    blocks = [ctx.greet(c.first), ("p", topic[1]), *ctx.closing(s)]
    d = Draft(
        (s.name, s.email),
        [(c.name, c.email)],
        ctx.choice([topic[0], f"RE: {topic[0]}"]),
        blocks,
        ctx.when(),
    )
    return Sample(d, False, "pass", set(), [])


@kind("disclaimer_heavy", risky=False)
def disclaimer_heavy(ctx: Ctx) -> Sample:
    """A short message under a long legal disclaimer that mentions sensitive data."""
    s = ctx.staff()
    c = ctx.contact()
    text = ctx.choice(
        [
            "Thanks, received.",
            "That's fine - see you on Thursday.",
            "Could you send me the updated version when you have it?",
            "I'm out of the office tomorrow, so Friday would be better.",
            "Noted, many thanks.",
        ]
    )
    blocks = [
        ctx.greet(c.first),
        ("p", text),
        ("p", ctx.choice(cc.SIGNOFFS)),
        ("sig", cc.signature(s, ctx.rng)),
        (
            "small",
            cc.DISCLAIMERS[ctx.rng.choice([0, 1, 3])].format(
                name=cc.NAME, web=cc.WEB, switchboard=cc.SWITCHBOARD
            ),
        ),
    ]
    d = Draft(
        (s.name, s.email),
        [(c.name, c.email)],
        ctx.choice(["RE: Thursday", "RE: meeting", "RE: update", "RE: documents"]),
        blocks,
        ctx.when(),
    )
    return Sample(d, False, "pass", set(), [])


# --- residents at large ------------------------------------------------------------------


NEWSLETTER_ITEMS = [
    (
        "Memory café",
        "The memory café at Ashcombe Library meets every Thursday from 2pm. People living with "
        "dementia, their families and carers are welcome for tea, cake and a chat.",
    ),
    (
        "Carers' support group",
        "Our carers' support group meets on the second Monday of the month at the Anytown "
        "Community Centre. Come and meet other unpaid carers.",
    ),
    (
        "Dementia-friendly cinema",
        "The Regal in Marlow Heath is showing a dementia-friendly screening of a classic "
        "musical, with the lights up and the sound down.",
    ),
    (
        "Walk and Talk",
        "Men's mental health walking group every Saturday at 10am from the Westmoor park gates.",
    ),
    (
        "Sexual health clinic",
        "Free, confidential sexual health drop-in at the Riverside clinic, Tuesdays 4-7pm.",
    ),
    (
        "Stop smoking",
        "Want to quit? The Anyshire stop smoking service offers free support and nicotine "
        "replacement.",
    ),
    (
        "Recovery café",
        "The Recovery Café for people in recovery from drug and alcohol use has moved to the "
        "Old Library.",
    ),
    ("Bin collections", "Collections move by one day in the week after the bank holiday."),
    ("Libraries", "Summer Reading Challenge sign-ups open on 6 July at every library."),
    ("Warm spaces", "Warm spaces are open in 14 libraries and community centres this winter."),
]


@kind("residents_newsletter", risky=False, weight=1.2)
def residents_newsletter(ctx: Ctx) -> Sample:
    """The residents' e-newsletter (memory café, carers' group...), sent Bcc."""
    items = ctx.pick_some(NEWSLETTER_ITEMS, 3, 6)
    blocks = [
        ("p", f"Your Anyshire - {ctx.today:%B %Y}"),
        *[("p", f"{title}\n{text}") for title, text in items],
        (
            "small",
            f"You are receiving this because you signed up at {cc.WEB}/newsletter. Unsubscribe: "
            f"{cc.WEB}/unsubscribe?id={ctx.fake.hexify('^^^^^^^^^^^^')}",
        ),
    ]
    readers = sorted({ctx.resident().email for _ in range(ctx.rng.randint(15, 40))})
    d = Draft(
        ("Your Anyshire", cc.mailbox("news")),
        [("Your Anyshire", cc.mailbox("news"))],
        f"Your Anyshire: {items[0][0]} and more",
        blocks,
        ctx.when(),
        fmt="alternative",
        client="system",
        headers=[("List-Unsubscribe", f"<https://{cc.WEB}/unsubscribe>"), ("Precedence", "bulk")],
    )
    return Sample(d, False, "pass", set(), [], rcpt=readers)


@kind("out_of_office", risky=False, weight=1.2)
def out_of_office(ctx: Ctx) -> Sample:
    """An automatic reply, often from a mental-health or social-care professional."""
    s = ctx.staff_titled(
        "Mental Health",
        "Social Worker",
        "Nurse",
        "Substance Misuse",
        "Safeguarding",
        "Carers",
        "Officer",
        "Adviser",
    )
    sender = ctx.choice([ctx.resident().email, ctx.contact().email])
    back = ctx.date_ahead(1, 14)
    text = ctx.choice(
        [
            f"Thank you for your email. I am on annual leave, returning on {ctx.day(back)}. I "
            "will not be checking my emails. If your matter is urgent please contact the duty "
            f"worker on {s.phone}.",
            f"I am out of the office until {back:%d/%m}. If you are in mental health crisis "
            "please call NHS 111 and choose option 2, or call Samaritans on 116 123. For new "
            "referrals please contact the Single Point of Access.",
            "I'm currently working reduced hours and may be slow to respond. For safeguarding "
            f"concerns please call {cc.CONTACT_CENTRE} (out of hours: 01632 960999).",
            "Thank you for your message. I am attending training and will reply on my return on "
            f"{ctx.day(back)}. If your email is about a client on my caseload, please copy in "
            "the team inbox.",
        ]
    )
    blocks = [("p", text), ("sig", f"{s.name}\n{s.title}\n{s.team}\n{cc.NAME}")]
    d = Draft(
        (s.name, s.email),
        [("", sender)],
        "Automatic reply: "
        f"{ctx.choice(['Appointment', 'RE: referral', 'Query', 'Meeting next week', 'Invoice'])}",
        blocks,
        ctx.when(),
        headers=[("Auto-Submitted", "auto-replied"), ("X-Auto-Response-Suppress", "All")],
        fmt=ctx.choice(["plain", "alternative"]),
    )
    return Sample(d, False, "pass", set(), [])


@kind("bounce_ndr", risky=False)
def bounce_ndr(ctx: Ctx) -> Sample:
    """A non-delivery report from the council's mail system to an outside sender."""
    r = ctx.resident()
    left = f"{ctx.fake.first_name().lower()}.{ctx.fake.last_name().lower()}@{cc.DOMAIN}"
    when = ctx.when()
    orig_subject = ctx.choice(
        [
            "Allotment waiting list",
            "RE: garden waste",
            "Question about my bin",
            "Library opening hours",
            "RE: school transport",
        ]
    )
    boundary = f"----=_NDR_{ctx.fake.hexify('^^^^^^^^^^^^')}"
    mid = f"<{ctx.fake.hexify('^^^^^^^^^^^^^^^^')}@mail.gmail.com>"
    raw = (
        f"From: Mail Delivery System <MAILER-DAEMON@mx1.{cc.DOMAIN}>\n"
        f"To: {r.email}\n"
        f"Subject: Undeliverable: {orig_subject}\n"
        f"Date: {when:%a, %d %b %Y %H:%M:%S %z}\n"
        f"Message-ID: <ndr.{ctx.fake.hexify('^^^^^^^^^^')}@mx1.{cc.DOMAIN}>\n"
        "Auto-Submitted: auto-replied\n"
        "MIME-Version: 1.0\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\n\n'
        f"--{boundary}\nContent-Type: text/plain; charset=us-ascii\n\n"
        "Delivery has failed to these recipients or groups:\n\n"
        f"{left}\nThe email address you entered couldn't be found. Please check the recipient's "
        "email "
        "address and try to resend the message. If the problem continues, please contact your "
        "helpdesk.\n\n"
        f"Diagnostic information for administrators:\nGenerating server: mx1.{cc.DOMAIN}\n{left}\n"
        "Remote Server returned '550 5.1.10 RESOLVER.ADR.RecipientNotFound; Recipient not found by "
        "SMTP address lookup'\n\n"
        f"--{boundary}\nContent-Type: message/delivery-status\n\n"
        f"Reporting-MTA: dns; mx1.{cc.DOMAIN}\n\n"
        f"Final-Recipient: rfc822; {left}\nAction: failed\nStatus: 5.1.10\n"
        "Diagnostic-Code: smtp; 550 5.1.10 RESOLVER.ADR.RecipientNotFound\n\n"
        f"--{boundary}\nContent-Type: text/rfc822-headers\n\n"
        f"From: {r.name} <{r.email}>\nTo: {left}\nSubject: {orig_subject}\nMessage-ID: {mid}\n"
        f"Date: {ctx.earlier(when, 1):%a, %d %b %Y %H:%M:%S %z}\n\n"
        f"--{boundary}--\n"
    )
    return Sample(None, False, "pass", set(), [], raw=raw.encode(), mail_from="", rcpt=[r.email])


# Who sits on the council's partnership boards and working groups.
PARTNERSHIP = ("nhs", "police", "council", "fire", "housing", "probation", "charity", "supplier")


@kind("calendar_invite", risky=False)
def calendar_invite(ctx: Ctx) -> Sample:
    """An Outlook meeting request (.ics) to partners and outside organisations."""
    s = ctx.staff()
    title = ctx.choice(
        [
            "Carers Strategy co-production workshop",
            "Dementia Friendly Anytown steering group",
            "Safeguarding Adults Board - learning from reviews",
            "Supported housing project board",
            "Substance misuse partnership meeting",
            "Learning disability day opportunities - provider forum",
            "Contract review",
            "Winter planning - hospital discharge",
        ]
    )
    attendees = [ctx.contact(*PARTNERSHIP) for _ in range(ctx.rng.randint(2, 7))]
    att = sorted({(a.name, a.email) for a in attendees})
    start = ctx.date_ahead(3, 30)
    hour = ctx.rng.randint(9, 15)
    text = (
        f"{title}\n\nVenue: {ctx.choice(cc.SITES)} or join on Microsoft Teams.\nAgenda to follow. "
        "Please forward to colleagues who should attend."
    )
    cal = docs.ics(
        uid=ctx.fake.uuid4(),
        summary=title,
        start=f"{start:%Y%m%d}T{hour:02d}0000",
        end=f"{start:%Y%m%d}T{hour + 1:02d}3000",
        location=ctx.choice(cc.SITES),
        organiser=(s.name, s.email),
        attendees=att,
        description=text,
        stamp=f"{ctx.today:%Y%m%d}T090000Z",
    )
    blocks = [("p", text), ("sig", f"{s.name}\n{s.title}")]
    d = Draft(
        (s.name, s.email),
        att,
        title,
        blocks,
        ctx.when(),
        fmt="alternative",
        attachments=[Attachment("invite.ics", cal, inline_calendar=True)],
    )
    return Sample(d, False, "pass", set(), [])


@kind("forwarded_chain_clean", risky=False, weight=1.2)
def forwarded_chain_clean(ctx: Ctx) -> Sample:
    """A forwarded thread with names, phone numbers and nothing sensitive."""
    s = ctx.staff()
    c = ctx.contact()
    colleague = ctx.choice(s.colleagues)
    when = ctx.when()
    subject = ctx.choice(
        [
            "Road closure - Church Street resurfacing",
            "Parish council meeting dates",
            "Fire alarm test at Riverside House",
            "Changes to the library opening hours",
            "Christmas collection calendar",
            "Consultation on the Local Plan",
        ]
    )
    inner2 = Quote(
        (c.name, c.email),
        [(colleague.name, colleague.email)],
        ctx.earlier(when, 6),
        subject,
        [
            ("p", ctx.greet(colleague.first)[1]),
            (
                "p",
                f"Just to let you know about the {subject.lower()}. Contact me on "
                f"{ctx.fake.phone_number()} if you have questions.",
            ),
            ("p", f"Regards\n{c.name}\n{c.org.name}"),
        ],
    )
    inner1 = Quote(
        (colleague.name, colleague.email),
        [(s.name, s.email)],
        ctx.earlier(when, 2),
        f"FW: {subject}",
        [
            ("p", f"{s.first} - FYI, can you pass this on?"),
            ("p", colleague.first),
            ("quote", inner2),
        ],
        forward=True,
    )
    target = ctx.contact()
    blocks = [
        ctx.greet(target.first),
        (
            "p",
            ctx.choice(
                [
                    "Please see below, for information.",
                    "Forwarding as discussed.",
                    "FYI - see the details below.",
                ]
            ),
        ),
        *ctx.closing(s),
        ("quote", inner1),
    ]
    d = Draft((s.name, s.email), [(target.name, target.email)], f"FW: {subject}", blocks, when)
    return Sample(d, False, "pass", set(), [])


@kind("real_webmail_provider", risky=False, weight=1.2)
def real_webmail_provider(ctx: Ctx) -> Sample:
    """A reply with a leaflet to a resident at a real but less common mail provider."""
    s = ctx.staff("community", "customer", "revenues")
    domain = ctx.choice(
        [
            "ymail.com",
            "email.com",
            "mail.com",
            "gmx.co.uk",
            "googlemail.com",
            "btinternet.com",
            "live.co.uk",
            "virginmedia.com",
            "talktalk.net",
            "me.com",
            "aol.co.uk",
            "yahoo.com",
            "hotmail.co.uk",
            "outlook.com",
            "protonmail.com",
        ]
    )
    r = ctx.resident(domain=domain)
    topic, leaflet = ctx.choice(
        [
            (
                "Garden waste subscription",
                "Garden waste collections run fortnightly from March to November.",
            ),
            (
                "Allotments",
                "The waiting list for allotments at Mill Lane is currently about 18 months.",
            ),
            (
                "Library card",
                "Your library card lets you borrow up to 15 items and use the e-book service.",
            ),
            (
                "Household waste recycling centre permit",
                "Vans and trailers need a permit to use the recycling centres.",
            ),
        ]
    )
    att = [("h1", topic), ("p", leaflet), ("p", f"More information: {cc.WEB}")]
    blocks = [
        ctx.greet(r.first, r.formal),
        (
            "p",
            f"Thank you for your enquiry about {topic.lower()}. I attach our leaflet, which "
            "should answer most questions.",
        ),
        *ctx.closing(s),
    ]
    d = Draft(
        (s.name, s.email),
        [(r.name, r.email)],
        f"RE: {topic}",
        blocks,
        ctx.when(),
        attachments=[Attachment(f"{topic.replace(' ', '_')}.pdf", docs.pdf(att, title=topic))],
    )
    return Sample(d, False, "pass", set(), [r.name])


@kind("contact_details_reply", risky=False)
def contact_details_reply(ctx: Ctx) -> Sample:
    """How to reach the council: switchboard, offices, opening hours."""
    s = ctx.staff("customer")
    r = ctx.resident()
    blocks = [
        ctx.greet(r.first, r.formal),
        ("p", "Thank you for your email. You can contact us in the following ways:"),
        (
            "lines",
            f"Telephone: {cc.SWITCHBOARD} "
            "(switchboard) or "
            f"{cc.CONTACT_CENTRE} "
            "(customer services), Monday "
            "to Friday 8.30am to "
            "5pm\nTextphone: "
            f"{cc.TEXTPHONE}\nIn person: "
            f"{', '.join(cc.HQ)}\n" + "\n".join(cc.SITES) + f"\nOnline: {cc.WEB}/contact",
        ),
        (
            "p",
            "Out of hours emergencies (e.g. a dangerous structure or an adult at risk): 01632 "
            "960999.",
        ),
        *ctx.closing(s),
    ]
    d = Draft(
        ("Customer Services", f"customer.services@{cc.DOMAIN}"),
        [(r.name, r.email)],
        "RE: How do I contact you",
        blocks,
        ctx.when(),
    )
    return Sample(d, False, "pass", set(), [])


@kind("law_firm_acronym", risky=False)
def law_firm_acronym(ctx: Ctx) -> Sample:
    """Legal work with a law firm whose name is also a benefit's acronym."""
    s = ctx.staff("legal")
    org = ctx.world.org(ctx.choice(["piplaw.co.uk", "esasolicitors.co.uk"]))
    c = ctx.choice(org.contacts)
    short = org.name.split()[0]
    matter = ctx.choice(
        [
            "the lease of Unit 4, Station Road Industrial Estate",
            "the section 106 agreement for land at Mill Lane",
            "the transfer of the former depot",
            "the licence for the community garden",
        ]
    )
    blocks = [
        ctx.greet(c.first),
        (
            "p",
            f"Thank you for the revised draft of {matter}. Our comments are in the attached "
            "mark-up.",
        ),
        (
            "p",
            ctx.choice(
                [
                    f"Please note our reference LS/{ctx.ref(digits=5)} and yours "
                    f"{short}/{ctx.ref(digits=4)}.",
                    f"As {short} acts for the purchaser, could you confirm your client's "
                    "position on clause 7?",
                    f"I understand {short} are instructed on the completion as well.",
                ]
            ),
        ),
        *ctx.closing(s),
    ]
    att = docs.docx(
        [
            ("h1", matter.capitalize()),
            ("p", "1. Definitions\n2. Grant\n3. Rent and review"),
            ("p", f"Draft {ctx.today:%d.%m.%y} - {short} comments in blue, {cc.NAME} in red"),
        ],
        title=matter,
    )
    d = Draft(
        (s.name, s.email),
        [(c.name, c.email)],
        f"RE: {matter} [{short}-{ctx.ref(digits=4)}]",
        blocks,
        ctx.when(),
        attachments=[Attachment("Draft - council comments.docx", att)],
    )
    return Sample(d, False, "pass", set(), [])


@kind("multi_agency_meeting", risky=False)
def multi_agency_meeting(ctx: Ctx) -> Sample:
    """Notes of a partnership meeting to 6-10 professionals at their work addresses."""
    s = ctx.staff()
    people = {
        c.email: c for c in (ctx.contact(*PARTNERSHIP) for _ in range(ctx.rng.randint(8, 14)))
    }
    to = [(c.name, c.email) for c in list(people.values())[: ctx.rng.randint(6, 10)]]
    group = ctx.choice(
        [
            "Dementia Friendly Anytown steering group",
            "Carers partnership board",
            "Homelessness forum",
            "Community safety partnership",
            "Winter pressures group",
        ]
    )
    blocks = [
        ("p", ctx.choice(["Dear all", "Hi everyone", "Good afternoon all"])),
        (
            "p",
            f"Thanks for coming to the {group} yesterday. The notes and actions are below; the "
            f"next meeting is on {ctx.day(ctx.date_ahead(20, 45))}.",
        ),
        (
            "p",
            "Actions:\n1. Circulate the draft terms of reference (SJ)\n2. Update on the funding "
            "bid (Housing Trust)\n3. Venue for the awareness day (all)",
        ),
        *ctx.closing(s),
    ]
    d = Draft((s.name, s.email), to, f"{group} - notes and actions", blocks, ctx.when())
    return Sample(d, False, "pass", set(), [])


# --- single cases shared properly ----------------------------------------------------------


@kind("partner_referral_nhs", risky=False, weight=1.2)
def partner_referral_nhs(ctx: Ctx) -> Sample:
    """A single-case referral to an NHS colleague at nhs.net (a partner)."""
    s = ctx.staff("adults")
    c = ctx.choice(ctx.world.org("nhs.net").contacts)
    p = ctx.resident(min_age=55)
    condition = ctx.choice(
        [
            "vascular dementia",
            "Parkinson's disease",
            "a recent stroke",
            "COPD",
            "Alzheimer's disease",
            "type 2 diabetes with leg ulcers",
        ]
    )
    blocks = [
        ctx.greet(c.first),
        ("p", f"Re: {p.name}, DOB {p.dob_text()}, NHS number {p.nhs}\n{p.street}, {p.postcode}"),
        (
            "p",
            f"{p.title} {p.last} lives alone and has {condition}. Following the review on "
            f"{ctx.day(ctx.today - dt.timedelta(days=ctx.rng.randint(1, 8)))} we are arranging a "
            "package of care (two calls a day). Could the district nurses pick up the wound "
            "care and medication review?",
        ),
        ("p", "Consent to share has been given. Please call me if you need anything else."),
        *ctx.closing(s),
    ]
    d = Draft(
        (s.name, s.email),
        [(c.name, c.email)],
        ctx.choice(
            [
                "Referral",
                f"Referral - {p.first[0]}{p.last[0]}",
                "Shared care - new package",
                "Hospital discharge follow-up",
            ]
        ),
        blocks,
        ctx.when(),
    )
    return Sample(
        d,
        False,
        "pass",
        {"UK_NHS", "DATE_OF_BIRTH", "SPECIAL_CATEGORY"},
        person_secrets(p, "nhs", "dob"),
        note="single case to a partner",
    )


@kind("police_info_share", risky=False)
def police_info_share(ctx: Ctx) -> Sample:
    """A MASH information share about a child, to the police (a partner)."""
    s = ctx.staff("children")
    c = ctx.choice(ctx.world.org("anyshire.police.uk").contacts)
    kid = ctx.child()
    parent = ctx.resident(min_age=22, max_age=45)
    blocks = [
        ctx.greet(c.first),
        ("p", f"MASH information request - {kid.name}, DOB {kid.dob_text()}"),
        (
            "p",
            f"{kid.first} has been subject to a child protection plan under the category of "
            f"neglect since {ctx.today.year - 1}. Mother, {parent.name}, is known to the "
            "Substance Misuse Service. We would be grateful for any police information about "
            "domestic incidents at the address in the last 12 months.",
        ),
        ("p", "Please respond by secure email within 24 hours."),
        *ctx.closing(s),
    ]
    d = Draft(
        (s.name, s.email),
        [(c.name, c.email), ("MASH", "mash@anyshire.police.uk")],
        "OFFICIAL-SENSITIVE: MASH information request",
        blocks,
        ctx.when(),
    )
    return Sample(
        d,
        False,
        "pass",
        {"DATE_OF_BIRTH", "SPECIAL_CATEGORY"},
        [kid.name, f"{kid.dob:%d/%m/%Y}", parent.name],
        note="single case to a partner",
    )


@kind("internal_case_note", risky=False)
def internal_case_note(ctx: Ctx) -> Sample:
    """Two social workers discussing a named service user, internal only."""
    s = ctx.staff("adults")
    colleague = ctx.choice(ctx.world.staff_in("adults"))
    p = ctx.resident(min_age=40)
    condition = ctx.choice(
        [
            "Parkinson's",
            "early-onset dementia",
            "bipolar disorder",
            "a learning disability and epilepsy",
            "alcohol-related brain damage",
        ]
    )
    blocks = [
        ctx.greet(colleague.first),
        (
            "p",
            f"Quick update on {p.name} "
            f"({ctx.choice(['', 'DOB ', 'dob: ', 'born '])}{p.dob_text()}, NHS {p.nhs}). Their "
            f"{condition} means the current package isn't enough and the family are struggling.",
        ),
        (
            "p",
            "Can we discuss at allocation on Thursday? I think we need an OT assessment and a "
            "carer's assessment for the daughter.",
        ),
        *ctx.closing(s, external=False),
    ]
    d = Draft(
        (s.name, s.email),
        [(colleague.name, colleague.email)],
        ctx.choice(["Case update", f"{p.first[0]}{p.last[0]} - update", "Allocation Thursday"]),
        blocks,
        ctx.when(),
    )
    return Sample(
        d,
        False,
        "pass",
        {"UK_NHS", "DATE_OF_BIRTH", "SPECIAL_CATEGORY"},
        person_secrets(p, "nhs", "dob"),
        note="internal only",
    )


# --- other languages ---------------------------------------------------------------------


@kind("welsh_mail", risky=False, weight=0.8)
def welsh_mail(ctx: Ctx) -> Sample:
    """A reply in Welsh (with English) to a resident who wrote in Welsh."""
    s = ctx.staff("customer", "community")
    r = ctx.resident()
    text = ctx.choice(
        [
            (
                "Casgliadau biniau",
                "Diolch yn fawr am eich neges. Bydd eich bin gwyrdd yn cael ei gasglu ddydd "
                "Mawrth nesaf. Ymddiheurwn am yr oedi yr wythnos diwethaf.",
            ),
            (
                "Llyfrgell",
                "Diolch am gysylltu â ni. Mae'r llyfrgell ar agor o ddydd Llun i ddydd Sadwrn, "
                "9 tan 5. Mae croeso i chi ddod i'r sesiwn stori a chân i blant bach ddydd "
                "Gwener.",
            ),
            (
                "Treth y cyngor",
                f"Diolch am eich e-bost. Rydym wedi diweddaru eich cyfrif treth gyngor {r.ctax}. "
                "Bydd bil newydd yn cyrraedd o fewn wythnos.",
            ),
        ]
    )
    blocks = [
        ("p", f"Annwyl {r.formal}"),
        ("p", text[1]),
        (
            "p",
            "(English) Thank you for your message; we have replied in Welsh as you asked. "
            "Please let us know if you would also like an English copy.",
        ),
        ("p", ctx.choice(["Yn gywir", "Cofion cynnes", "Cofion"])),
        ("sig", f"{s.name}\n{s.title}\n{cc.NAME}"),
    ]
    d = Draft((s.name, s.email), [(r.name, r.email)], f"RE: {text[0]}", blocks, ctx.when())
    return Sample(d, False, "pass", set(), [r.name])


@kind("polish_mail", risky=False, weight=0.8)
def polish_mail(ctx: Ctx) -> Sample:
    """A reply in Polish about school admissions or council tax."""
    s = ctx.staff("community", "revenues", "customer")
    r = ctx.resident()
    last = ctx.choice(
        ["Kowalska", "Nowak", "Wiśniewska", "Wójcik", "Kamińska", "Lewandowski", "Zieliński"]
    )
    first = ctx.choice(["Agnieszka", "Katarzyna", "Magdalena", "Piotr", "Tomasz", "Marta"])
    provider = ctx.choice(cc.FOREIGN_WEBMAIL)
    email = f"{first.lower()[:3]}.{ctx.fake.user_name()}@{provider}"
    topic = ctx.choice(
        [
            (
                "Zapisy do szkoły",
                "Informacja dla rodziców: wnioski o miejsce w szkole podstawowej dla dzieci "
                "urodzonych między 1 września a 31 sierpnia należy złożyć do 15 stycznia. "
                "Formularz jest dostępny online; pomoc dla osób, które nie mówią po angielsku, "
                "jest bezpłatna.",
            ),
            (
                "Podatek lokalny",
                "Dziękujemy za wiadomość. Numer konta podatku lokalnego (council tax) to "
                f"{r.ctax}. Zniżka dla osoby samotnej (25%) została przyznana od początku "
                "miesiąca. Nowy rachunek zostanie wysłany pocztą.",
            ),
            (
                "Odbiór śmieci",
                "Odpady zielone odbieramy co dwa tygodnie. Kalendarz odbioru dla Pani ulicy "
                "jest w załączniku. Dla mieszkańców bloków obowiązują inne dni.",
            ),
        ]
    )
    blocks = [
        ("p", f"Szanowna Pani {last}," if last.endswith("a") else f"Szanowny Panie {last},"),
        ("p", topic[1]),
        ("p", "W razie pytań prosimy o kontakt."),
        ("p", "Z poważaniem"),
        ("sig", f"{s.name}\n{s.title}\n{cc.NAME}"),
    ]
    d = Draft(
        (s.name, s.email), [(f"{first} {last}", email)], f"RE: {topic[0]}", blocks, ctx.when()
    )
    return Sample(d, False, "pass", set(), [f"{first} {last}"])


@kind("romanian_mail", risky=False, weight=0.8)
def romanian_mail(ctx: Ctx) -> Sample:
    """A reply in Romanian, quoting a resident who mentions Roma (the city)."""
    s = ctx.staff("community", "customer")
    first = ctx.choice(["Ioana", "Elena", "Andrei", "Mihai", "Cristina", "Florin"])
    last = ctx.choice(["Popescu", "Ionescu", "Dumitru", "Stan", "Gheorghe", "Munteanu"])
    provider = ctx.choice(["yahoo.com", "gmail.com", "yahoo.ro"])
    email = f"{first.lower()}.{last.lower()}{ctx.rng.randint(1, 99)}@{provider}"
    when = ctx.when()
    asked = ctx.choice(
        [
            "Bună ziua, am fost plecată la Roma două săptămâni și nu am putut plăti amenda de "
            "parcare la timp. Vă rog să mă ajutați. Mulțumesc!",
            "Bună ziua, m-am întors din Roma și am găsit scrisoarea despre permisul de parcare. "
            "Ce documente trebuie să trimit?",
        ]
    )
    blocks = [
        ("p", f"Stimată doamnă / Stimate domn {last},"),
        (
            "p",
            ctx.choice(
                [
                    "Vă mulțumim pentru mesaj. Am prelungit termenul de plată cu 14 zile. "
                    "Puteți plăti online sau la telefon.",
                    "Vă rugăm să trimiteți o copie a certificatului de înmatriculare și o "
                    "dovadă a adresei. Permisul va fi emis în cinci zile lucrătoare.",
                ]
            ),
        ),
        ("p", "Cu stimă,"),
        ("sig", f"{s.name}\n{s.title}\n{cc.NAME}"),
        (
            "quote",
            Quote(
                (f"{first} {last}", email),
                [("Parking", cc.mailbox("parking"))],
                ctx.earlier(when),
                "Permis de parcare",
                [("p", asked)],
                style="gmail",
            ),
        ),
    ]
    d = Draft(
        (s.name, s.email), [(f"{first} {last}", email)], "RE: Permis de parcare", blocks, when
    )
    return Sample(d, False, "pass", set(), [f"{first} {last}"])


@kind("urdu_latin_mail", risky=False, weight=0.8)
def urdu_latin_mail(ctx: Ctx) -> Sample:
    """Roman Urdu with a community group about an event booking."""
    s = ctx.staff("community")
    name = ctx.choice(
        ["Imran Hussain", "Nasreen Akhtar", "Tariq Mahmood", "Shazia Begum", "Asif Iqbal"]
    )
    provider = ctx.choice(["hotmail.co.uk", "gmail.com", "yahoo.co.uk"])
    email = f"{name.split()[0].lower()}{ctx.rng.randint(10, 99)}@{provider}"
    text = ctx.choice(
        [
            "Assalam-o-alaikum, Eid milan party ke liye community hall ki booking confirm ho "
            "gayi hai. Hall subah 10 baje khul jayega aur shaam 6 baje tak aap ke paas hai. "
            "Kursiyan aur mezein store room mein hain.",
            "Salaam, aap ki darkhwast mil gayi hai. Jumma ke baad ladies group ke liye chhota "
            "kamra har hafte available hai. Kiraya £15 fi ghanta hai, is ke liye invoice alag "
            "se bheja jayega.",
            "Assalam-o-alaikum, senior citizens lunch club ke liye grant form is email ke saath "
            "hai. Baraye meharbani mahine ke aakhir tak wapas bhej dein. Shukriya!",
        ]
    )
    blocks = [
        ("p", f"{name.split()[0]} sahib," if ctx.chance(0.5) else f"Dear {name.split()[0]},"),
        ("p", text),
        ("p", "Khuda hafiz" if ctx.chance(0.5) else "Kind regards"),
        ("sig", f"{s.name}\n{s.title}\n{cc.NAME}"),
    ]
    d = Draft(
        (s.name, s.email),
        [(name, email)],
        ctx.choice(["Hall booking", "RE: community hall", "Grant form"]),
        blocks,
        ctx.when(),
    )
    return Sample(d, False, "pass", set(), [name])


@kind("care_provider_commissioning", risky=False)
def care_provider_commissioning(ctx: Ctx) -> Sample:
    """Commissioning mail to a care provider: services for conditions, not people."""
    s = ctx.staff("procurement", "adults", "publichealth")
    c = ctx.contact("supplier", "charity")
    service, detail = ctx.choice(
        [
            (
                "homecare",
                "The uplift to the hourly rate for homecare, including the enhanced rate for "
                "clients with dementia or complex needs, applies from 1 April.",
            ),
            (
                "supported living",
                "We are retendering supported living for adults with learning disabilities and "
                "autism. The specification and the TUPE list are on the portal.",
            ),
            (
                "day opportunities",
                "Please send your quarterly return for the day opportunities contract: hours "
                "delivered, referrals accepted and any safeguarding concerns raised.",
            ),
            (
                "recovery service",
                "The drug and alcohol recovery service KPIs for Q2 are due on the 15th. We will "
                "discuss the mental health dual-diagnosis pathway at the review.",
            ),
        ]
    )
    blocks = [
        ctx.greet(c.first),
        ("p", detail),
        ("p", f"Please quote contract reference ASC-{ctx.ref(digits=4)} in any correspondence."),
        *ctx.closing(s),
    ]
    d = Draft(
        (s.name, s.email),
        [(c.name, c.email)],
        f"{service.capitalize()} contract",
        blocks,
        ctx.when(),
    )
    return Sample(d, False, "pass", set(), [])


@kind("subject_access_response", risky=False, weight=0.8)
def subject_access_response(ctx: Ctx) -> Sample:
    """The response to a subject access request: the requester's own records, to them."""
    s = ctx.staff("ig")
    r = ctx.resident()
    ref = f"SAR-{ctx.today:%Y}-{ctx.ref(digits=4)}"
    condition = ctx.choice(["depression", "anxiety", "a back injury", "diabetes", "epilepsy"])
    records = [
        ("Title", "Subject access request - your records"),
        (
            "p",
            f"Name: {r.name}\nDate of birth: {r.dob_text()}\nNational Insurance number: "
            f"{r.nino}\nAddress: {r.street}, {r.town} {r.postcode}",
        ),
        ("h2", "Case notes (Adult Social Care)"),
        (
            "p",
            f"{(ctx.today - dt.timedelta(days=200)):%d/%m/%Y} Telephone call from {r.first}. "
            f"Struggling with {condition} since losing job; asked about help at home. Advice "
            "given.",
        ),
        (
            "p",
            f"{(ctx.today - dt.timedelta(days=150)):%d/%m/%Y} Assessment completed. Not eligible "
            "for funded care; signposted to the carers' centre and the GP.",
        ),
    ]
    blocks = [
        ctx.greet(r.first, r.formal),
        ("p", f"Subject access request {ref}"),
        (
            "p",
            "Thank you for your request under Article 15 of the UK GDPR. I attach a copy of the "
            "personal data the council holds about you. Some information about other people has "
            "been removed, as the law requires.",
        ),
        (
            "p",
            "If you are not satisfied with this response you can ask for an internal review or "
            "complain to the Information Commissioner's Office.",
        ),
        *ctx.closing(s),
    ]
    d = Draft(
        (s.name, s.email),
        [(r.name, r.email)],
        f"Your subject access request {ref}",
        blocks,
        ctx.when(),
        attachments=[Attachment(f"{ref} records.pdf", docs.pdf(records, title=ref))],
    )
    return Sample(
        d,
        False,
        "pass",
        {"UK_NINO", "DATE_OF_BIRTH", "SPECIAL_CATEGORY"},
        person_secrets(r, "nino", "dob"),
        note="the requester's own records, to them",
    )
