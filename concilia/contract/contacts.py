"""Contacts (welfare.contacts.v1): restricted, compacted, keyed by `ref`; a null value
erases the contact. Only the notifier reads it."""

from pydantic import BaseModel, EmailStr


class ContactType:
    UPSERTED = "contact.upserted"


class ContactEventData(BaseModel):
    ref: str
    name: str
    email: EmailStr
    language: str = "it"
