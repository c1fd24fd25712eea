"""What the bakeries cook with: suppliers, ingredients and the recipe of every product.

Static reference data the inventory simulation (:mod:`simulator.inventory`) draws from,
and the source of two dbt seeds: ``seeds/ingredients.csv`` (:func:`render_ingredients_seed`)
and ``seeds/recipes.csv`` (:func:`render_recipes_seed`). Rewrite both with
``python -c "from simulator.recipes import write_inventory_seeds; write_inventory_seeds()"``.

Units: stock is kept, counted and delivered in an ingredient's ``unit`` (kg, l or pcs);
recipes say how much of it one product takes in its ``recipe_unit`` (g, ml or pcs), always
a whole number, so a recipe converts to stock units exactly (grams / 1000).

Every POS product (every sku of :data:`simulator.catalog.MENU` and ``SEASONAL``) has a
recipe; so does one prepared item that is not sold, :data:`DOUGH_BALL` (the dough for one
medium pizza), which the waste log uses for dough thrown away at closing time.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

from simulator.catalog import MENU, SEASONAL, sku

SEEDS_DIR = Path(__file__).resolve().parents[1] / "seeds"
INGREDIENTS_SEED_PATH = SEEDS_DIR / "ingredients.csv"
RECIPES_SEED_PATH = SEEDS_DIR / "recipes.csv"

INGREDIENTS_HEADER = [
    "ingredient_code",
    "ingredient_name",
    "category",
    "unit",
    "recipe_unit",
    "units_per_recipe_unit",
    "supplier_code",
    "supplier_name",
    "pack_size",
    "shelf_life_days",
]
RECIPES_HEADER = ["sku", "ingredient_code", "quantity", "recipe_unit"]

RECIPE_UNIT = {"kg": "g", "l": "ml", "pcs": "pcs"}
PER_RECIPE_UNIT = {"kg": "0.001", "l": "0.001", "pcs": "1"}  # stock units per recipe unit


@dataclass(frozen=True)
class Supplier:
    """A supplier and the weekdays it delivers (0 = Monday); orders are placed the day
    before. ``emergency`` suppliers are where a store buys when it runs short."""

    code: str
    name: str
    weekdays: tuple[int, ...]
    emergency: bool = False


SUPPLIERS: list[Supplier] = [
    Supplier("MOLINO", "Molino Bianco (flour and dry goods)", (0, 3)),
    Supplier("CASEIFICIO", "Caseificio Campano (dairy)", (0, 1, 2, 3, 4, 5)),
    Supplier("SALUMI", "Salumificio Emiliano (cured meats)", (1, 4)),
    Supplier("ORTO", "Ortofrutta del Sole (fresh produce)", (0, 2, 4)),
    Supplier("DISPENSA", "Dispensa Italiana (pantry)", (1, 4)),
    Supplier("BEVANDE", "Bevande Nord (drinks)", (2, 5)),
    Supplier("CASH", "Cash & carry (emergency purchases)", (0, 1, 2, 3, 4, 5, 6), True),
]
SUPPLIER_BY_CODE = {s.code: s for s in SUPPLIERS}
EMERGENCY_SUPPLIER = "CASH"


@dataclass(frozen=True)
class Ingredient:
    """A stocked ingredient: how it is counted, bought and how long it keeps."""

    code: str
    name: str
    category: str  # dry | dairy | meat | produce | pantry | drink
    unit: str  # stock unit: kg | l | pcs
    supplier: str
    pack_size: float  # bought in whole packs of this many stock units
    cost_cents: int  # price of one stock unit at the start of any world, in euro cents
    shelf_life_days: int  # a delivery keeps this many days, then it is thrown away
    count_step: float  # people count it to this precision (stock units)

    @property
    def recipe_unit(self) -> str:
        return RECIPE_UNIT[self.unit]

    @property
    def per_recipe_unit(self) -> float:
        return float(PER_RECIPE_UNIT[self.unit])


def _i(code, name, category, unit, supplier, pack, cost, shelf, step) -> Ingredient:
    return Ingredient(code, name, category, unit, supplier, pack, cost, shelf, step)


INGREDIENTS: list[Ingredient] = [
    _i("FLOUR", "Farina tipo 00", "dry", "kg", "MOLINO", 25, 95, 180, 0.5),
    _i("SEMOLINA", "Semola rimacinata", "dry", "kg", "MOLINO", 10, 140, 180, 0.5),
    _i("SALT", "Sale marino fino", "dry", "kg", "MOLINO", 5, 45, 720, 0.1),
    _i("SUGAR", "Zucchero semolato", "dry", "kg", "MOLINO", 5, 110, 720, 0.1),
    _i("YEAST", "Lievito di birra fresco", "dry", "kg", "MOLINO", 1, 420, 21, 0.05),
    _i("MOZZ", "Fior di latte", "dairy", "kg", "CASEIFICIO", 3, 780, 6, 0.05),
    _i("BUFALA", "Mozzarella di bufala", "dairy", "kg", "CASEIFICIO", 1, 1450, 4, 0.05),
    _i("RICOTTA", "Ricotta vaccina", "dairy", "kg", "CASEIFICIO", 1.5, 520, 6, 0.05),
    _i("MASCARPONE", "Mascarpone", "dairy", "kg", "CASEIFICIO", 1, 690, 10, 0.05),
    _i("GORGONZOLA", "Gorgonzola dolce", "dairy", "kg", "CASEIFICIO", 1.5, 1180, 21, 0.05),
    _i("PARMIGIANO", "Parmigiano Reggiano", "dairy", "kg", "CASEIFICIO", 1, 1990, 60, 0.05),
    _i("FONTINA", "Fontina", "dairy", "kg", "CASEIFICIO", 1, 1350, 30, 0.05),
    _i("BUTTER", "Burro", "dairy", "kg", "CASEIFICIO", 1, 950, 30, 0.05),
    _i("MILK", "Latte intero", "dairy", "l", "CASEIFICIO", 6, 120, 7, 0.5),
    _i("EGGS", "Uova pastorizzate (brik)", "dairy", "l", "CASEIFICIO", 1, 420, 10, 0.1),
    _i("SALAME", "Salame piccante", "meat", "kg", "SALUMI", 1, 1650, 30, 0.05),
    _i("PROSCIUTTO", "Prosciutto cotto", "meat", "kg", "SALUMI", 1, 1390, 12, 0.05),
    _i("SALSICCIA", "Salsiccia fresca", "meat", "kg", "SALUMI", 1, 990, 5, 0.05),
    _i("BASIL", "Basilico fresco", "produce", "kg", "ORTO", 0.25, 2400, 4, 0.01),
    _i("FUNGHI", "Funghi champignon", "produce", "kg", "ORTO", 2, 560, 5, 0.05),
    _i("ONION", "Cipolla rossa", "produce", "kg", "ORTO", 5, 180, 30, 0.1),
    _i("GARLIC", "Aglio", "produce", "kg", "ORTO", 1, 650, 60, 0.05),
    _i("VERDURE", "Verdure grigliate", "produce", "kg", "ORTO", 2, 890, 5, 0.05),
    _i("FRIARIELLI", "Friarielli", "produce", "kg", "ORTO", 1, 990, 4, 0.05),
    _i("PUMPKIN", "Zucca", "produce", "kg", "ORTO", 5, 250, 30, 0.1),
    _i("ROSEMARY", "Rosmarino fresco", "produce", "kg", "ORTO", 0.1, 2800, 10, 0.01),
    _i("TOMATO", "Passata di pomodoro San Marzano", "pantry", "kg", "DISPENSA", 10, 290, 365, 0.1),
    _i("OIL", "Olio extravergine di oliva", "pantry", "l", "DISPENSA", 5, 980, 365, 0.1),
    _i("OLIVES", "Olive nere", "pantry", "kg", "DISPENSA", 2, 760, 180, 0.05),
    _i("ARTICHOKE", "Carciofini sott'olio", "pantry", "kg", "DISPENSA", 2, 1120, 180, 0.05),
    _i("OREGANO", "Origano secco", "pantry", "kg", "DISPENSA", 0.5, 1800, 365, 0.01),
    _i("TUNA", "Tonno all'olio", "pantry", "kg", "DISPENSA", 1, 1550, 365, 0.05),
    _i("ANCHOVY", "Acciughe sott'olio", "pantry", "kg", "DISPENSA", 0.5, 2200, 180, 0.01),
    _i("SAVOIARDI", "Savoiardi", "pantry", "kg", "DISPENSA", 1, 690, 180, 0.05),
    _i("COCOA", "Cacao amaro", "pantry", "kg", "DISPENSA", 1, 1100, 365, 0.05),
    _i("COFFEE", "Caffè in grani", "pantry", "kg", "DISPENSA", 1, 1790, 180, 0.05),
    _i("WATER", "Acqua naturale 50 cl", "drink", "pcs", "BEVANDE", 24, 22, 365, 1),
    _i("ARANCIATA", "Aranciata (post-mix)", "drink", "l", "BEVANDE", 10, 160, 120, 0.5),
    _i("COLA", "Cola (post-mix)", "drink", "l", "BEVANDE", 10, 150, 120, 0.5),
    _i("BEER", "Birra alla spina (fusto)", "drink", "l", "BEVANDE", 20, 310, 60, 0.5),
    _i("WINE", "Vino rosso della casa (bag-in-box)", "drink", "l", "BEVANDE", 10, 450, 365, 0.5),
]
INGREDIENT_BY_CODE = {i.code: i for i in INGREDIENTS}

# ---------------------------------------------------------------- recipes
# Quantities in recipe units (g, ml, pcs) for one unit of the product. Pizzas are given for
# size M and scaled (S 0.75, M 1, L 1.35, rounded to the gram); drinks by size.
PIZZA_SIZE_FACTOR = {"S": 0.75, "M": 1.0, "L": 1.35}
DOUGH = {"FLOUR": 160, "SALT": 4, "YEAST": 2, "OIL": 5}  # one dough ball (M)
DOUGH_BALL = "PREP-DOUGH"  # not sold: the waste log's unit for dough thrown away

PIZZA_TOPPINGS: dict[str, dict[str, int]] = {
    "PZ-MARG": {"TOMATO": 90, "MOZZ": 110, "BASIL": 3, "OIL": 5},
    "PZ-MARI": {"TOMATO": 110, "GARLIC": 6, "OREGANO": 1, "OIL": 8},
    "PZ-DIAV": {"TOMATO": 90, "MOZZ": 110, "SALAME": 50},
    "PZ-CAPR": {
        "TOMATO": 90,
        "MOZZ": 100,
        "PROSCIUTTO": 40,
        "FUNGHI": 40,
        "ARTICHOKE": 30,
        "OLIVES": 15,
    },
    "PZ-QFOR": {"MOZZ": 80, "GORGONZOLA": 35, "PARMIGIANO": 20, "FONTINA": 35},
    "PZ-PROS": {"TOMATO": 90, "MOZZ": 110, "PROSCIUTTO": 60, "FUNGHI": 50},
    "PZ-BUFA": {"TOMATO": 90, "BUFALA": 125, "BASIL": 4, "OIL": 5},
    "PZ-NAPO": {"TOMATO": 90, "MOZZ": 100, "ANCHOVY": 15, "OREGANO": 1},
    "PZ-VEGE": {"TOMATO": 90, "MOZZ": 100, "VERDURE": 110},
    "PZ-TONN": {"TOMATO": 90, "MOZZ": 100, "TUNA": 60, "ONION": 40},
    "PZ-SALS": {"MOZZ": 110, "SALSICCIA": 70, "FRIARIELLI": 70},
    "PZ-CALZ": {"TOMATO": 50, "MOZZ": 90, "RICOTTA": 70, "PROSCIUTTO": 50},
    "PZ-ZUCC": {"MOZZ": 100, "PUMPKIN": 100, "SALSICCIA": 50},
}
ITEM_RECIPES: dict[str, dict[str, int]] = {
    "BR-FOCC": {"FLOUR": 120, "OIL": 20, "SALT": 3, "YEAST": 2},
    "BR-FOCR": {"FLOUR": 120, "OIL": 20, "SALT": 3, "YEAST": 2, "ROSEMARY": 2},
    "BR-PANE": {"FLOUR": 350, "SEMOLINA": 50, "SALT": 7, "YEAST": 4},
    "BR-GRIS": {"FLOUR": 80, "OIL": 8, "SALT": 2, "YEAST": 1},
    "PA-CORN": {"FLOUR": 45, "BUTTER": 25, "SUGAR": 8, "EGGS": 5, "MILK": 10, "YEAST": 1},
    "PA-BOMB": {"FLOUR": 50, "SUGAR": 12, "BUTTER": 10, "EGGS": 10, "MILK": 30, "YEAST": 1},
    "PA-SFOG": {"FLOUR": 40, "SEMOLINA": 20, "RICOTTA": 30, "BUTTER": 15, "SUGAR": 10},
    "PA-CANN": {"FLOUR": 25, "RICOTTA": 60, "SUGAR": 15, "COCOA": 2},
    "PA-TIRA": {
        "MASCARPONE": 60,
        "EGGS": 25,
        "SUGAR": 15,
        "SAVOIARDI": 40,
        "COFFEE": 5,
        "COCOA": 2,
    },
    "DR-ESPR": {"COFFEE": 8},
    "DR-CAPP": {"COFFEE": 8, "MILK": 120},
    "DR-ACQU": {"WATER": 1},
    "DR-VINO": {"WINE": 150},
}
DRINK_SIZES_ML: dict[str, tuple[str, dict[str, int]]] = {
    "DR-ARAN": ("ARANCIATA", {"S": 250, "M": 400, "L": 500}),
    "DR-COLA": ("COLA", {"S": 250, "M": 400, "L": 500}),
    "DR-BIRR": ("BEER", {"M": 300, "L": 500}),
}


def _pizza_recipe(code: str, size: str) -> dict[str, int]:
    factor = PIZZA_SIZE_FACTOR[size]
    recipe: dict[str, int] = {}
    for part in (DOUGH, PIZZA_TOPPINGS[code]):
        for ingredient, grams in part.items():
            recipe[ingredient] = recipe.get(ingredient, 0) + grams
    return {i: max(1, round(q * factor)) for i, q in recipe.items()}


def build_recipes() -> dict[str, dict[str, int]]:
    """sku -> {ingredient code: quantity in recipe units} for every product and the dough."""
    recipes: dict[str, dict[str, int]] = {}
    for item in MENU + SEASONAL:
        for size in item.prices:
            code = sku(item, size)
            if item.code in PIZZA_TOPPINGS:
                recipes[code] = _pizza_recipe(item.code, size or "M")
            elif item.code in DRINK_SIZES_ML:
                ingredient, by_size = DRINK_SIZES_ML[item.code]
                recipes[code] = {ingredient: by_size[size]}
            else:
                recipes[code] = dict(ITEM_RECIPES[item.code])
    recipes[DOUGH_BALL] = dict(DOUGH)
    return recipes


RECIPES: dict[str, dict[str, int]] = build_recipes()


def usage_per_unit(code: str) -> dict[str, float]:
    """Stock units of each ingredient one unit of ``code`` (a sku or the dough ball) takes."""
    return {i: q * INGREDIENT_BY_CODE[i].per_recipe_unit for i, q in RECIPES[code].items()}


# ---------------------------------------------------------------- the dbt seeds
def _number(value: float) -> str:
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return text or "0"


def ingredient_seed_rows() -> list[dict[str, str]]:
    """The rows of ``seeds/ingredients.csv``."""
    return [
        {
            "ingredient_code": i.code,
            "ingredient_name": i.name,
            "category": i.category,
            "unit": i.unit,
            "recipe_unit": i.recipe_unit,
            "units_per_recipe_unit": PER_RECIPE_UNIT[i.unit],
            "supplier_code": i.supplier,
            "supplier_name": SUPPLIER_BY_CODE[i.supplier].name,
            "pack_size": _number(i.pack_size),
            "shelf_life_days": str(i.shelf_life_days),
        }
        for i in INGREDIENTS
    ]


def recipe_seed_rows() -> list[dict[str, str]]:
    """The rows of ``seeds/recipes.csv``: one per product (sku) and ingredient."""
    return [
        {
            "sku": code,
            "ingredient_code": ingredient,
            "quantity": str(quantity),
            "recipe_unit": INGREDIENT_BY_CODE[ingredient].recipe_unit,
        }
        for code, recipe in RECIPES.items()
        for ingredient, quantity in recipe.items()
    ]


def _render(header: list[str], rows: list[dict[str, str]]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()


def render_ingredients_seed() -> str:
    """CSV text of ``seeds/ingredients.csv``."""
    return _render(INGREDIENTS_HEADER, ingredient_seed_rows())


def render_recipes_seed() -> str:
    """CSV text of ``seeds/recipes.csv``."""
    return _render(RECIPES_HEADER, recipe_seed_rows())


def write_inventory_seeds(seeds_dir: Path = SEEDS_DIR) -> None:
    """Rewrite ``ingredients.csv`` and ``recipes.csv`` in ``seeds_dir`` from this catalogue."""
    (seeds_dir / INGREDIENTS_SEED_PATH.name).write_text(render_ingredients_seed(), encoding="utf-8")
    (seeds_dir / RECIPES_SEED_PATH.name).write_text(render_recipes_seed(), encoding="utf-8")
