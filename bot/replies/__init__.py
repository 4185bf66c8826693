"""What the bot says, in Korean: to shoppers (shopper.py), to rights holders (holder.py), around a hand-over to
a person (takeover.py), and the Korean it is written with — particles, won amounts, dates (korean.py)."""
