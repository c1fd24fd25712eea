"""Fake but realistic personal data (PII) for loyalty customers: names, emails, phones.

Everything is drawn from the ``random.Random`` passed in, so it is as deterministic as
the caller's generator.
"""

from __future__ import annotations

import random
import unicodedata

FIRST_NAMES = {
    "it": "Giulia Francesca Chiara Sara Martina Alessia Elena Valentina Federica Silvia "
    "Giorgia Anna Laura Paola Sofia Marco Luca Andrea Matteo Alessandro Davide Francesco "
    "Lorenzo Simone Giuseppe Stefano Riccardo Nicolò Gabriele Tommaso",
    "en": "Olivia Amelia Isla Emily Sophie Grace Chloe Lucy Hannah Charlotte Jessica Ellie "
    "Oliver Harry Jack George Noah Charlie Jacob Thomas James William Oscar Liam Connor "
    "Daniel Samuel Joseph Aoife Niamh",
    "de": "Anna Lena Lea Hannah Laura Julia Sophie Marie Katharina Sarah Johanna Jana "
    "Lukas Leon Felix Jonas Maximilian Paul Tobias Jan Moritz Niklas Florian Sebastian "
    "Stefan Jürgen Matthias Jörg",
    "es": "Lucía María Paula Laura Marta Carmen Sara Alba Ana Elena Irene Nuria Sofía "
    "Hugo Pablo Javier Alejandro Daniel David Adrián Álvaro Diego Sergio Carlos Jorge "
    "Manuel Iván Raúl",
    "fr": "Camille Léa Manon Chloé Emma Inès Sarah Julie Pauline Marine Clara Louise "
    "Lucas Hugo Théo Louis Nathan Antoine Maxime Thomas Julien Nicolas Baptiste Arthur "
    "Mathieu Clément Étienne",
    "nl": "Emma Sophie Julia Lotte Anna Fleur Sanne Lisa Eva Noor Daan Sem Lucas Levi "
    "Bram Thijs Jesse Ruben Stijn Lars Joris Pieter",
    "pt": "Maria Beatriz Ana Inês Mariana Leonor Carolina Joana Rita Sofia João Francisco "
    "Rodrigo Tiago Duarte Miguel Afonso Pedro Gonçalo Rui",
}
LAST_NAMES = {
    "it": "Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno "
    "Gallo Conti De_Luca Mancini Costa Giordano Rizzo Lombardi Moretti Barbieri Fontana "
    "Santoro Mariani Rinaldi Caruso Ferrara Galli Martini Leone",
    "en": "Smith Jones Taylor Brown Williams Wilson Johnson Davies Robinson Wright Thompson "
    "Evans Walker White Roberts Green Hall Wood Jackson Clarke Murphy Kelly O'Brien Byrne "
    "Ryan Walsh Hughes Edwards Patel Khan",
    "de": "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann "
    "Schäfer Koch Bauer Richter Klein Wolf Schröder Neumann Schwarz Zimmermann Braun "
    "Krüger Hofmann Hartmann Lange Huber Gruber",
    "es": "García Rodríguez González Fernández López Martínez Sánchez Pérez Gómez Martín "
    "Jiménez Ruiz Hernández Díaz Moreno Álvarez Muñoz Romero Alonso Gutiérrez Navarro "
    "Torres Domínguez Vázquez Ramos",
    "fr": "Martin Bernard Dubois Thomas Robert Richard Petit Durand Leroy Moreau Simon "
    "Laurent Lefebvre Michel Garcia David Bertrand Roux Vincent Fournier Morel Girard "
    "André Lefèvre Mercier Dupont",
    "nl": "de_Jong Jansen de_Vries van_den_Berg van_Dijk Bakker Janssen Visser Smit "
    "Meijer de_Boer Mulder de_Groot Bos Vos Peters Hendriks Dekker Peeters Maes",
    "pt": "Silva Santos Ferreira Pereira Oliveira Costa Rodrigues Martins Jesus Sousa "
    "Fernandes Gonçalves Gomes Lopes Marques Alves Almeida Ribeiro Pinto Carvalho",
}
FIRST = {k: v.split() for k, v in FIRST_NAMES.items()}
LAST = {k: [n.replace("_", " ") for n in v.split()] for k, v in LAST_NAMES.items()}

LANGUAGE = {
    "IT": "it",
    "GB": "en",
    "IE": "en",
    "DE": "de",
    "AT": "de",
    "ES": "es",
    "FR": "fr",
    "BE": "fr",
    "NL": "nl",
    "PT": "pt",
}
DOMAINS = {
    "IT": ["gmail.com", "libero.it", "hotmail.it", "yahoo.it", "outlook.it", "tiscali.it"],
    "GB": ["gmail.com", "outlook.com", "hotmail.co.uk", "yahoo.co.uk", "btinternet.com"],
    "IE": ["gmail.com", "outlook.com", "eircom.net", "hotmail.com"],
    "DE": ["gmx.de", "web.de", "gmail.com", "t-online.de", "outlook.de"],
    "AT": ["gmx.at", "gmail.com", "aon.at", "outlook.com"],
    "ES": ["gmail.com", "hotmail.es", "yahoo.es", "outlook.es", "telefonica.net"],
    "FR": ["gmail.com", "orange.fr", "free.fr", "laposte.net", "hotmail.fr", "sfr.fr"],
    "BE": ["gmail.com", "skynet.be", "telenet.be", "hotmail.com"],
    "NL": ["gmail.com", "ziggo.nl", "kpnmail.nl", "hotmail.nl", "outlook.com"],
    "PT": ["gmail.com", "sapo.pt", "hotmail.com", "outlook.pt"],
}


def _digits(rng: random.Random, n: int) -> str:
    return f"{rng.randrange(10**n):0{n}d}"


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def name(rng: random.Random, country: str) -> tuple[str, str]:
    """A first and last name; mostly of the store's country, some from elsewhere."""
    language = LANGUAGE[country]
    if rng.random() < 0.15:
        language = rng.choice(sorted(FIRST))
    return rng.choice(FIRST[language]), rng.choice(LAST[language])


def email(rng: random.Random, first: str, last: str, country: str) -> str:
    """An email address built from the name, the way people actually pick them."""
    f, l_ = _ascii(first), _ascii(last)
    style = rng.randrange(6)
    if style == 0:
        local = f"{f}.{l_}"
    elif style == 1:
        local = f"{f}{l_}"
    elif style == 2:
        local = f"{f[0]}.{l_}"
    elif style == 3:
        local = f"{f}.{l_}{rng.randrange(1, 100)}"
    elif style == 4:
        local = f"{f}_{l_}{rng.randrange(1960, 2006)}"
    else:
        local = f"{l_}.{f}{rng.randrange(10)}"
    return f"{local}@{rng.choice(DOMAINS[country])}"


def phone(rng: random.Random, country: str) -> str | None:
    """A mobile number in the country's usual format, or None (not given) for about 1 in 8."""
    if rng.random() < 0.12:
        return None
    d = lambda n: _digits(rng, n)  # noqa: E731
    formats = {
        "IT": lambda: f"+39 3{d(2)} {d(3)} {d(4)}",
        "GB": lambda: f"+44 7{d(3)} {d(6)}",
        "IE": lambda: f"+353 8{d(1)} {d(3)} {d(4)}",
        "DE": lambda: f"+49 15{d(1)} {d(8)}",
        "AT": lambda: f"+43 6{d(2)} {d(7)}",
        "ES": lambda: f"+34 6{d(2)} {d(3)} {d(3)}",
        "FR": lambda: f"+33 6 {d(2)} {d(2)} {d(2)} {d(2)}",
        "BE": lambda: f"+32 4{d(2)} {d(2)} {d(2)} {d(2)}",
        "NL": lambda: f"+31 6 {d(8)}",
        "PT": lambda: f"+351 9{d(2)} {d(3)} {d(3)}",
    }
    return formats[country]()
