"""Clean Bot (클린봇): the domain, services and NLU components of the anti-counterfeit support bot."""
