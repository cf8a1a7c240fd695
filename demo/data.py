"""A deterministic, multilingual product-search demo dataset with learnable grades.

Items and queries are built from a small attribute grammar (category, colour,
material, style) rendered through a per-language lexicon, so relevance can be learnt
from the text alone:

| grade | candidate item                                          |
|-------|---------------------------------------------------------|
| 5     | same category, colour and material as the query          |
| 4     | same category and one of colour / material               |
| 3     | same category only                                       |
| 2     | a related category (same group, e.g. shoes vs. boots)    |
| 1     | an unrelated category                                    |

About 10% of the human grades are moved by +/-1 to mimic rater noise. With a scale
other than 5 grades, grades are mapped linearly onto 1..G.

`labeled.jsonl` holds English queries only (human raters are English-speaking);
`unlabeled.csv` holds every language, English included, and no grade column. Image
captions are English in every language because they come from a vision-language model.
Many items also name a small generated image (`image`, relative to the data directory;
see `demo.images`), mostly items without a caption, for the image captioner.
"""

import csv
import io
import json
import logging
import os
import random
from typing import Dict, List, Optional, Tuple

import tensorflow as tf

from relevance import contract
from demo.images import image_reference, write_demo_images

logger = logging.getLogger(__name__)


def _words(text: str) -> Tuple[str, ...]:
    return tuple(word.strip() for word in text.split("|"))


# Attribute words in a fixed order shared by every language (index = attribute value):
# 15 categories in 5 groups of 3, 8 colours, 8 materials, 6 styles, 5 group names.
LEXICON: Dict[str, dict] = {
    "en": {
        "category": _words("shoes|boots|sandals|dress|jacket|scarf|sofa|chair|table|mug|"
                           "teapot|bowl|lamp|lantern|chandelier"),
        "colour": _words("red|blue|green|black|white|yellow|pink|grey"),
        "material": _words("leather|wooden|cotton|ceramic|glass|metal|wool|linen"),
        "style": _words("vintage|modern|minimalist|rustic|elegant|sporty"),
        "group": _words("footwear|clothing|furniture|kitchenware|lighting"),
        "query": "{colour} {material} {category}",
        "colour_query": "{colour} {category}",
        "material_query": "{material} {category}",
        "title": "{style} {colour} {material} {category}",
        "description": "Our {style} {category}, made of {material} and available in "
                       "{colour}. {filler}",
        "link_description": "Shop {group} at {shop}. Free returns on every order.",
        "board": "{style} {group}",
        "caption": "a photo of {colour} {material} {category} on a {background}",
        "filler": _words("Perfect for everyday use.|Easy to clean and built to last.|"
                         "A great gift for friends and family.|Ships within two days."),
        "favourites": _words("My favourites|Things I love|Wish list"),
    },
    "es": {
        "category": _words("zapatos|botas|sandalias|vestido|chaqueta|bufanda|sofá|silla|mesa|"
                           "taza|tetera|cuenco|lámpara|farol|candelabro"),
        "colour": _words("rojo|azul|verde|negro|blanco|amarillo|rosa|gris"),
        "material": _words("cuero|madera|algodón|cerámica|vidrio|metal|lana|lino"),
        "style": _words("vintage|moderno|minimalista|rústico|elegante|deportivo"),
        "group": _words("calzado|ropa|muebles|cocina|iluminación"),
        "query": "{category} {colour} de {material}",
        "colour_query": "{category} {colour}",
        "material_query": "{category} de {material}",
        "title": "{category} {style} {colour} de {material}",
        "description": "Este producto {style} está hecho de {material} y viene en color "
                       "{colour}. {filler}",
        "link_description": "Compra {group} en {shop}. Devoluciones gratis en todos los pedidos.",
        "board": "{group} {style}",
        "filler": _words("Perfecto para el uso diario.|Fácil de limpiar y muy resistente.|"
                         "Un gran regalo para tu familia y tus amigos.|Envío en dos días."),
        "favourites": _words("Mis favoritos|Cosas que me encantan|Lista de deseos"),
    },
    "de": {
        "category": _words("Schuhe|Stiefel|Sandalen|Kleid|Jacke|Schal|Sofa|Stuhl|Tisch|Tasse|"
                           "Teekanne|Schüssel|Lampe|Laterne|Kronleuchter"),
        "colour": _words("rote|blaue|grüne|schwarze|weiße|gelbe|rosa|graue"),
        "material": _words("Leder|Holz|Baumwolle|Keramik|Glas|Metall|Wolle|Leinen"),
        "style": _words("Vintage|moderne|minimalistische|rustikale|elegante|sportliche"),
        "group": _words("Schuhwerk|Kleidung|Möbel|Küchenzubehör|Beleuchtung"),
        "query": "{colour} {category} aus {material}",
        "colour_query": "{colour} {category}",
        "material_query": "{category} aus {material}",
        "title": "{style} {colour} {category} aus {material}",
        "description": "Dieses Produkt ist aus {material} gefertigt und in der Farbe {colour} "
                       "erhältlich. {filler}",
        "link_description": "{group} bei {shop} kaufen. Kostenlose Rücksendung für jede "
                            "Bestellung.",
        "board": "{style} {group}",
        "filler": _words("Perfekt für den täglichen Gebrauch.|Leicht zu reinigen und sehr "
                         "langlebig.|Ein tolles Geschenk für Freunde und Familie.|"
                         "Versand innerhalb von zwei Tagen."),
        "favourites": _words("Meine Favoriten|Dinge, die ich liebe|Wunschliste"),
    },
    "fr": {
        "category": _words("chaussures|bottes|sandales|robe|veste|écharpe|canapé|chaise|table|"
                           "tasse|théière|bol|lampe|lanterne|lustre"),
        "colour": _words("rouge|bleu|vert|noir|blanc|jaune|rose|gris"),
        "material": _words("cuir|bois|coton|céramique|verre|métal|laine|lin"),
        "style": _words("vintage|moderne|minimaliste|rustique|élégant|sportif"),
        "group": _words("chaussures|vêtements|meubles|ustensiles de cuisine|luminaires"),
        "query": "{category} {colour} en {material}",
        "colour_query": "{category} {colour}",
        "material_query": "{category} en {material}",
        "title": "{category} {style} {colour} en {material}",
        "description": "Ce produit {style} est fabriqué en {material} et existe en {colour}. "
                       "{filler}",
        "link_description": "Achetez des {group} chez {shop}. Retours gratuits sur toutes les "
                            "commandes.",
        "board": "{group} {style}",
        "filler": _words("Parfait pour une utilisation quotidienne.|Facile à nettoyer et très "
                         "résistant.|Un beau cadeau pour vos proches.|Livraison sous deux jours."),
        "favourites": _words("Mes favoris|Les choses que j'adore|Liste de souhaits"),
    },
    "ru": {
        "category": _words("туфли|ботинки|сандалии|платье|куртка|шарф|диван|стул|стол|кружка|"
                           "чайник|миска|лампа|фонарь|люстра"),
        "colour": _words("красный|синий|зелёный|чёрный|белый|жёлтый|розовый|серый"),
        # Genitive forms: the templates say "из <material>".
        "material": _words("кожи|дерева|хлопка|керамики|стекла|металла|шерсти|льна"),
        "style": _words("винтажный|современный|минималистичный|деревенский|элегантный|"
                        "спортивный"),
        "group": _words("обувь|одежда|мебель|посуда|освещение"),
        "query": "{colour} {category} из {material}",
        "colour_query": "{colour} {category}",
        "material_query": "{category} из {material}",
        "title": "{style} {colour} {category} из {material}",
        "description": "Этот товар сделан из {material}, цвет {colour}. {filler}",
        "link_description": "Купите {group} в магазине {shop}. Бесплатный возврат для всех "
                            "заказов.",
        "board": "{style} {group}",
        "filler": _words("Идеально подходит для повседневного использования.|Легко чистить, "
                         "служит долго.|Отличный подарок для друзей и семьи.|"
                         "Доставка за два дня."),
        "favourites": _words("Моё любимое|То, что мне нравится|Список желаний"),
    },
    "ja": {
        "category": _words("靴|ブーツ|サンダル|ワンピース|ジャケット|マフラー|ソファ|椅子|"
                           "テーブル|マグカップ|ティーポット|ボウル|ランプ|ランタン|シャンデリア"),
        "colour": _words("赤い|青い|緑の|黒い|白い|黄色い|ピンクの|グレーの"),
        "material": _words("革|木製|綿|陶器|ガラス|金属|ウール|リネン"),
        "style": _words("ヴィンテージ|モダン|ミニマル|素朴な|エレガントな|スポーティな"),
        "group": _words("履物|衣類|家具|キッチン用品|照明"),
        "query": "{colour} {material}の{category}",
        "colour_query": "{colour}{category}",
        "material_query": "{material}の{category}",
        "title": "{style} {colour} {material}の{category}",
        "description": "この{style}{category}は{material}で作られていて、色は{colour}です。"
                       "{filler}",
        "link_description": "{shop}で{group}をお買い求めください。すべての注文で返品無料です。",
        "board": "{style}な{group}",
        "filler": _words("毎日の使用に最適です。|お手入れが簡単で長持ちします。|"
                         "ご家族へのプレゼントにぴったりです。|二日以内に発送します。"),
        "favourites": _words("お気に入り|大好きなもの|ほしいものリスト"),
    },
    "zh": {
        "category": _words("鞋子|靴子|凉鞋|连衣裙|夹克|围巾|沙发|椅子|桌子|马克杯|茶壶|碗|"
                           "台灯|灯笼|吊灯"),
        "colour": _words("红色|蓝色|绿色|黑色|白色|黄色|粉色|灰色"),
        "material": _words("真皮|木质|棉质|陶瓷|玻璃|金属|羊毛|亚麻"),
        "style": _words("复古|现代|极简|乡村|优雅|运动"),
        "group": _words("鞋类|服装|家具|厨具|灯具"),
        "query": "{colour}{material}{category}",
        "colour_query": "{colour}{category}",
        "material_query": "{material}{category}",
        "title": "{style}风格{colour}{material}{category}",
        "description": "这款{style}风格的{category}采用{material}制成，颜色是{colour}。{filler}",
        "link_description": "在{shop}购买{group}。所有订单都可以免费退货。",
        "board": "我的{style}{group}",
        "filler": _words("非常适合日常使用。|易于清洁，经久耐用。|送给家人和朋友的好礼物。|"
                         "我们会在两天内发货。"),
        "favourites": _words("我的最爱|我喜欢的东西|心愿单"),
    },
}
LANGUAGES: Tuple[str, ...] = tuple(LEXICON)
SHOPS = ("Casa Nova", "Nordic Living", "Atelier 9", "Urban Nest", "Sakura Home", "Maison Lumi")
BACKGROUNDS = ("white background", "wooden floor", "kitchen counter", "living room shelf")

NUM_ENGAGEMENT_RATE = contract.NUMERIC_FEATURE_PREFIX + "engagement_rate"
COLUMNS = (
    (contract.QUERY_ID, contract.QUERY, contract.ITEM_ID, contract.LANGUAGE)
    + contract.ITEM_TEXT_FIELDS
    + (NUM_ENGAGEMENT_RATE, contract.IMAGE)
)
LABELED_LANGUAGE = "en"

# Group of each category, indexed like LEXICON[...]["category"]; same group = related.
CATEGORY_GROUPS = (0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3, 4, 4, 4)
_NUM_COLOURS = 8
_NUM_MATERIALS = 8
_NUM_STYLES = 6
_MAX_DISTINCT_QUERIES = len(CATEGORY_GROUPS) * _NUM_COLOURS * _NUM_MATERIALS
_LABEL_NOISE = 0.10
_EXPLICIT_LANGUAGE_SHARE = 0.10
_DERIVED_QUERY_ID_SHARE = 0.30

Attributes = Tuple[int, int, int, int]  # category, colour, material, style


def write_demo_data(
    out_dir: str,
    num_labeled: int,
    num_unlabeled: int,
    seed: int = 0,
    num_grades: int = contract.DEFAULT_NUM_GRADES,
) -> dict:
    """Write `labeled.jsonl` and `unlabeled.csv` under `out_dir`; return their paths.

    The images the items name are written to `out_dir/images/`. The same arguments
    always give byte-identical files.

    Example:
        >>> import tempfile
        >>> paths = write_demo_data(tempfile.mkdtemp(), num_labeled=20, num_unlabeled=30)
        >>> sorted(paths)
        ['labeled', 'unlabeled']
    """
    if num_grades < 2:
        raise ValueError(f"num_grades must be at least 2, got {num_grades}")
    # Images come from their own generators so the rest of the data does not change.
    labeled_rows = generate_rows(
        random.Random(f"labeled-{seed}"), num_labeled, (LABELED_LANGUAGE,), "L", num_grades,
        image_rng=random.Random(f"labeled-images-{seed}"),
    )
    unlabeled_rows = generate_rows(
        random.Random(f"unlabeled-{seed}"), num_unlabeled, LANGUAGES, "U", num_grades,
        image_rng=random.Random(f"unlabeled-images-{seed}"),
    )
    for row in unlabeled_rows:
        del row[contract.GRADE]

    tf.io.gfile.makedirs(out_dir)
    paths = {
        "labeled": os.path.join(out_dir, "labeled.jsonl"),
        "unlabeled": os.path.join(out_dir, "unlabeled.csv"),
    }
    write_demo_images(out_dir)
    _write_text(paths["labeled"], _to_jsonl(labeled_rows))
    _write_text(paths["unlabeled"], _to_csv(unlabeled_rows, random.Random(f"csv-{seed}")))
    logger.info(
        "wrote %d labeled rows to %s and %d unlabeled rows to %s",
        len(labeled_rows),
        paths["labeled"],
        len(unlabeled_rows),
        paths["unlabeled"],
    )
    return paths


def relevance_grade(query: Attributes, item: Attributes) -> int:
    """Return the noise-free 1..5 grade of `item` for `query` (attribute tuples).

    Example:
        >>> relevance_grade((0, 1, 2, 0), (0, 1, 2, 5))
        5
        >>> relevance_grade((0, 1, 2, 0), (1, 1, 2, 0))
        2
    """
    if item[0] != query[0]:
        return 2 if CATEGORY_GROUPS[item[0]] == CATEGORY_GROUPS[query[0]] else 1
    return 3 + (item[1] == query[1]) + (item[2] == query[2])


# ---------------------------------------------------------------- generation


def generate_rows(
    rng: random.Random, num_rows: int, languages: Tuple[str, ...], prefix: str, num_grades: int,
    image_rng: Optional[random.Random] = None,
) -> List[dict]:
    """`num_rows` graded rows (contract fields) for queries in `languages`, in turn.

    The generator behind `write_demo_data`, for callers that need more graded rows of
    the same distribution (e.g. a held-out test set per language). Grades carry the
    demo's label noise; ids start with `prefix`; `image_rng` adds image-only items.

    Example:

    >>> rows = generate_rows(random.Random(0), 12, ("de",), "T", 5)
    >>> len(rows), all(1 <= row["grade"] <= 5 for row in rows)
    (12, True)
    """
    rows: List[dict] = []
    used_queries: Dict[str, set] = {}
    query_index = 0
    while len(rows) < num_rows:
        language = languages[query_index % len(languages)]
        query_index += 1
        query = _new_query(rng, language, used_queries)
        query_text = _render(language, "query", query)
        query_id = "" if rng.random() < _DERIVED_QUERY_ID_SHARE else f"{prefix}-q{query_index:05d}"
        explicit_language = language if rng.random() < _EXPLICIT_LANGUAGE_SHARE else ""
        for target in _candidate_grades(rng):
            item = _item_for_grade(rng, query, target)
            true_grade = relevance_grade(query, item)
            grade = true_grade
            if rng.random() < _LABEL_NOISE:
                grade = min(5, max(1, grade + rng.choice((-1, 1))))
            row = {
                contract.QUERY_ID: query_id,
                contract.QUERY: query_text,
                contract.ITEM_ID: f"{prefix}{len(rows) + 1:06d}",
                contract.LANGUAGE: explicit_language,
            }
            row.update(_item_text(rng, language, item))
            row[NUM_ENGAGEMENT_RATE] = _engagement_rate(rng, true_grade)
            row[contract.IMAGE] = image_reference(
                image_rng, colour=item[1], group=CATEGORY_GROUPS[item[0]],
                has_caption=bool(row["image_caption"])) if image_rng else ""
            row[contract.GRADE] = _rescale(grade, num_grades)
            rows.append(row)
            if len(rows) == num_rows:
                break
    return rows


def _new_query(rng: random.Random, language: str, used: Dict[str, set]) -> Attributes:
    """Draw a query not used before in this language, so one text means one query.

    Only past ~960 queries per language (~10k rows) must texts repeat.
    """
    seen = used.setdefault(language, set())
    while True:
        query = (rng.randrange(len(CATEGORY_GROUPS)), rng.randrange(_NUM_COLOURS),
                 rng.randrange(_NUM_MATERIALS), rng.randrange(_NUM_STYLES))
        if query[:3] not in seen or len(seen) >= _MAX_DISTINCT_QUERIES:
            seen.add(query[:3])
            return query


def _candidate_grades(rng: random.Random) -> List[int]:
    """8-12 target grades per query: each grade at least once, the rest at random."""
    grades = [5, 4, 3, 2, 1]
    grades += rng.choices((5, 4, 3, 2, 1), weights=(2, 2, 2, 2, 3), k=rng.randint(3, 7))
    rng.shuffle(grades)
    return grades


def _other(rng: random.Random, value: int, size: int) -> int:
    return (value + rng.randrange(1, size)) % size


def _item_for_grade(rng: random.Random, query: Attributes, grade: int) -> Attributes:
    category, colour, material = query[0], query[1], query[2]
    style = rng.randrange(_NUM_STYLES)
    if grade == 4:
        if rng.random() < 0.5:
            return category, colour, _other(rng, material, _NUM_MATERIALS), style
        return category, _other(rng, colour, _NUM_COLOURS), material, style
    if grade == 3:
        return (category, _other(rng, colour, _NUM_COLOURS),
                _other(rng, material, _NUM_MATERIALS), style)
    if grade in (2, 1):
        group = CATEGORY_GROUPS[category]
        pool = [
            index for index, item_group in enumerate(CATEGORY_GROUPS)
            if index != category and (item_group == group) == (grade == 2)
        ]
        return (rng.choice(pool), rng.randrange(_NUM_COLOURS),
                rng.randrange(_NUM_MATERIALS), style)
    return category, colour, material, style


def _render(language: str, template_name: str, attrs: Attributes, **extra) -> str:
    words = LEXICON[language]
    category, colour, material, style = attrs
    return words[template_name].format(
        category=words["category"][category],
        colour=words["colour"][colour],
        material=words["material"][material],
        style=words["style"][style],
        group=words["group"][CATEGORY_GROUPS[category]],
        **extra,
    )


def _item_text(rng: random.Random, language: str, item: Attributes) -> Dict[str, object]:
    words = LEXICON[language]
    title = _render(language, "title", item)
    description = _render(language, "description", item, filler=rng.choice(words["filler"]))
    if rng.random() < 0.05:
        # A second paragraph: exercises multi-line quoted CSV fields.
        description += "\n" + rng.choice(words["filler"])
    shop = rng.choice(SHOPS)
    engaged = [_render(language, rng.choice(("query", "colour_query", "material_query")), item)
               for _ in range(rng.choice((0, 0, 1, 2, 3)))]
    boards = [_render(language, "board", item) for _ in range(rng.choice((0, 1, 1, 2)))]
    if rng.random() < 0.3:
        boards.append(rng.choice(words["favourites"]))
    text = {
        "title": title if rng.random() > 0.05 else "",
        "description": description if rng.random() > 0.15 else "",
        "image_caption": _render("en", "caption", item, background=rng.choice(BACKGROUNDS))
        if rng.random() > 0.2 else "",
        "link_title": "",
        "link_description": "",
        "engaged_queries": list(dict.fromkeys(engaged)),
        "board_titles": list(dict.fromkeys(boards)),
    }
    if rng.random() > 0.3:
        text["link_title"] = f"{title} | {shop}"
        text["link_description"] = _render(language, "link_description", item, shop=shop)
    if not any(text.values()):
        text["title"] = title
    return text


def _engagement_rate(rng: random.Random, true_grade: int) -> object:
    if rng.random() < 0.1:
        return None  # no engagement data for this item yet
    rate = 0.02 + 0.04 * (true_grade - 1) + rng.gauss(0.0, 0.03)
    return round(min(1.0, max(0.0, rate)), 4)


def _rescale(grade: int, num_grades: int) -> int:
    return 1 + round((grade - 1) * (num_grades - 1) / 4)


# ---------------------------------------------------------------- writing


def _to_jsonl(rows: List[dict]) -> str:
    lines = []
    for row in rows:
        record = {key: value for key, value in row.items()
                  if not (key == contract.LANGUAGE and not value)
                  and not (key == NUM_ENGAGEMENT_RATE and value is None)
                  and not (key == contract.IMAGE and not value)}
        lines.append(json.dumps(record, ensure_ascii=False))
    return "\n".join(lines) + "\n"


def _to_csv(rows: List[dict], rng: random.Random) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows:
        cells = []
        for column in COLUMNS:
            value = row[column]
            if column in contract.LIST_STRING_FEATURES:
                # Both documented list encodings appear in the demo file.
                use_json = rng.random() < 0.5
                value = json.dumps(value, ensure_ascii=False) if use_json and value \
                    else " | ".join(value)
            cells.append("" if value is None else value)
        writer.writerow(cells)
    return buffer.getvalue()


def _write_text(path: str, text: str) -> None:
    with tf.io.gfile.GFile(path, "wb") as handle:
        handle.write(text.encode("utf-8"))
