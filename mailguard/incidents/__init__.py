"""Incidents: a message that got out (or nearly did), turned into what the ICO's
personal data breach report asks for, with the deletion requests that contain it."""
