"""The council's directory (Active Directory or LDAP): who a sender is, which groups
and department they belong to, which internal addresses exist and how many people a
distribution list reaches; and reviewers' sign-in."""
