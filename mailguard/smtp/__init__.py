"""SMTP wire side: accepting, limiting and answering clients."""
