"""The demo data set's per-language lexicon: attribute words and text templates.

Every language lists its attribute words in one fixed order (index = attribute value),
so an item's attributes render the same item in any language (`demo.data`).

>>> LEXICON["en"]["colour"][0], len(LANGUAGES) > 1
('red', True)
"""

from typing import Dict, Tuple


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
