"""Send an .eml file through mailguard, as a mail server would: ``python examples/send.py FILE``.

The envelope comes from the file's From, To and Cc headers. Standard library only.
"""

import argparse
import smtplib
from email import message_from_bytes
from email.utils import getaddresses, parseaddr

parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("file")
parser.add_argument("--host", default="127.0.0.1")
parser.add_argument("--port", type=int, default=10025)
args = parser.parse_args()

with open(args.file, "rb") as f:
    raw = f.read()
msg = message_from_bytes(raw)
sender = parseaddr(msg["From"])[1]
rcpts = [a for _, a in getaddresses(msg.get_all("To", []) + msg.get_all("Cc", [])) if a]
with smtplib.SMTP(args.host, args.port, timeout=60) as smtp:
    smtp.ehlo()
    smtp.mail(sender)
    for rcpt in rcpts:
        smtp.rcpt(rcpt)
    code, reply = smtp.data(raw)
print(f"{args.file}: {code} {reply.decode()}")
