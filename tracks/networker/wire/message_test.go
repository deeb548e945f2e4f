package wire

// Two versions of one message, as two deployments of a service would have
// them: v2 added fields 6 to 8. Field numbers are the contract.

type OrderV1 struct {
	ID       uint64   `json:"id"`
	Customer string   `json:"customer"`
	Quantity int64    `json:"quantity"`
	Price    float64  `json:"price"`
	Tags     []string `json:"tags"`
}

func (m OrderV1) Append(b []byte) []byte {
	b = AppendUvarintField(b, 1, m.ID)
	b = AppendStringField(b, 2, m.Customer)
	b = AppendSvarintField(b, 3, m.Quantity)
	b = AppendDoubleField(b, 4, m.Price)
	for _, t := range m.Tags {
		b = AppendStringField(b, 5, t)
	}
	return b
}

func (m *OrderV1) Decode(b []byte) error {
	*m = OrderV1{}
	var d Decoder
	d.Reset(b)
	for d.Next() {
		switch d.Number() {
		case 1:
			m.ID = d.Uvarint()
		case 2:
			m.Customer = d.String()
		case 3:
			m.Quantity = d.Svarint()
		case 4:
			m.Price = d.Double()
		case 5:
			m.Tags = append(m.Tags, d.String())
		}
	}
	return d.Err()
}

type Address struct {
	Street string
	City   string
}

type OrderV2 struct {
	OrderV1
	Note     string
	Priority int64
	Ship     *Address
}

func (m OrderV2) Append(b []byte) []byte {
	b = m.OrderV1.Append(b)
	b = AppendStringField(b, 6, m.Note)
	b = AppendSvarintField(b, 7, m.Priority)
	if m.Ship != nil {
		var nested []byte
		nested = AppendStringField(nested, 1, m.Ship.Street)
		nested = AppendStringField(nested, 2, m.Ship.City)
		b = AppendBytesField(b, 8, nested)
	}
	return b
}

func (m *OrderV2) Decode(b []byte) error {
	*m = OrderV2{}
	var d Decoder
	d.Reset(b)
	for d.Next() {
		switch d.Number() {
		case 1:
			m.ID = d.Uvarint()
		case 2:
			m.Customer = d.String()
		case 3:
			m.Quantity = d.Svarint()
		case 4:
			m.Price = d.Double()
		case 5:
			m.Tags = append(m.Tags, d.String())
		case 6:
			m.Note = d.String()
		case 7:
			m.Priority = d.Svarint()
		case 8:
			m.Ship = &Address{}
			var nd Decoder
			nd.Reset(d.Bytes())
			for nd.Next() {
				switch nd.Number() {
				case 1:
					m.Ship.Street = nd.String()
				case 2:
					m.Ship.City = nd.String()
				}
			}
			if err := nd.Err(); err != nil {
				return err
			}
		}
	}
	return d.Err()
}
